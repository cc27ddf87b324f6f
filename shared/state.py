"""Reading a saved state back: plain other forms are read, a value that cannot mean anything fails naming it.

A state is written by the connector itself, but it can also be edited by hand, carried over from another
connector, or left by an older version. A day written as a date-time, or in the vendor's own format, is read
(``day``, ``moment``). A value that cannot be read must neither crash the sync with a bare parsing error (which
names nothing) nor be skipped silently: it fails the sync and says which key to reset (``saved``, ``table_entry``).
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from shared import timestamps

T = TypeVar("T")

_RESET = "reset the connector's state (or that table's entry)"


class StateError(ValueError):
    """The saved state holds a value this connector does not write."""


def table_entry(state: dict, table: str) -> dict:
    """``state[table]``, created empty on a first sync; anything but an object fails."""
    entry = state.setdefault(table, {})
    if not isinstance(entry, dict):
        raise StateError(f"the saved state's {table!r} entry is {entry!r}, not an object as this connector writes "
                         f"it; {_RESET}")
    return entry


def saved(parse: Callable[[object], T], value: object, what: str, expected: str) -> T:
    """``parse(value)``; a value it refuses fails naming ``what`` (e.g. ``calls last_day_delivered``) and the
    ``expected`` form (e.g. ``a date (YYYY-MM-DD)``)."""
    try:
        return parse(value)
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise StateError(f"the saved state's {what} {value!r} is not {expected} as this connector writes it; "
                         f"{_RESET}") from None


def moment(value: object, *formats: str) -> datetime:
    """A saved time as an aware UTC datetime: any ISO-8601 form, or one of ``formats`` (naive values are UTC).

    Lenient on purpose: a state written by another tool or an older version in a form whose meaning is plain
    (``2024-06-15T00:00:00Z`` for a day, the vendor's ``2024/06/15 06:00:00``) is read, not refused."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    for fmt in formats:
        try:
            return timestamps.parse_format(value, fmt)
        except ValueError:
            continue
    return timestamps.parse_iso(value).astimezone(timestamps.UTC)


def day(value: object, *formats: str) -> date:
    """A saved day: ``YYYY-MM-DD``, or the UTC day of a saved time (see ``moment``)."""
    return moment(value, *formats).date()


def not_in_future(value: T, latest: T, *, restart: T, what: str, log) -> T:
    """``value``, or ``restart`` when it is after ``latest``, the latest this connector could have saved by now.

    A saved day after that comes from a host clock that ran ahead (or a hand edit). Walking on from it would read
    nothing until the clock caught up, and every day in between would be skipped without a word; so the walk goes
    back to ``restart`` (re-read days are absorbed by upserts), and the log says why.
    """
    if value <= latest:
        return value
    log.warning(f"the saved state's {what} {_shown(value)} is after {_shown(latest)}, the latest a sync could have "
                f"saved by now (did the host clock run ahead?); going on from {_shown(restart)} instead")
    return restart


def _shown(value: date) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()
