"""Nested records to flat rows: ``{"a": {"b": 1}}`` becomes ``{"a_b": 1}``.

Lists become JSON strings (their length varies, so they cannot be columns) and so do objects deeper than
``max_depth``. Keys named in ``json_keys`` are fields whose shape varies between rows (a string in one row, an
object in the next): they are passed through untouched, for a column the connector declares as JSON in
``schema()`` (the SDK encodes the value as JSON). A flattened name that collides with another key raises instead
of silently overwriting it, and so do two names that differ only in case (``Name`` and ``name``): destinations
fold column names to one case, so one of the two values would be lost without a word.

``ValueTyper`` types declared columns of a row; a value its converter refuses is kept as text instead of failing
the sync (see there).

Public: flatten_record, case_clash, to_json, to_flag, FLAG_WORDS, ValueTyper
"""

import json
from collections.abc import Callable, Iterable
from typing import Any


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON (stable text for the same value)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def flatten_record(record: dict, *, separator: str = "_", max_depth: int = 3,
                   json_keys: frozenset[str] | set[str] = frozenset()) -> dict:
    """One flat dict; ``json_keys`` are top-level keys passed through whole, for JSON-typed columns."""
    for value in record.values():
        if isinstance(value, (dict, list)):
            break
    else:  # already flat (e.g. every Courier message): a copy is the answer, keys cannot collide but in case
        _check_case(record)
        return dict(record)
    flat: dict = {}
    for key, value in record.items():
        if key in json_keys or not isinstance(value, (dict, list)):
            _put(flat, key, value)
        else:
            _flatten_into(flat, key, value, separator, max_depth, 1)
    _check_case(flat)
    return flat


def case_clash(names: Iterable[str]) -> tuple[str, str] | None:
    """Two of ``names`` that differ only in case (one column in a destination that folds case), or None."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            return other, name
    return None


_CHECKED_NAMES: set[tuple] = set()  # column sets already checked: rows of a table mostly share one
_CHECKED_NAMES_MAX = 10_000


def _check_case(row: dict) -> None:
    """Hot path: one tuple and one set lookup per row; the names are compared only for a new set of them."""
    names = tuple(row)
    if names in _CHECKED_NAMES:
        return
    clash = case_clash(names)
    if clash:
        raise ValueError(f"the record has the keys {clash[0]!r} and {clash[1]!r}, which differ only in case: "
                         "a destination folds column names to one case, so one value would be lost")
    if len(_CHECKED_NAMES) >= _CHECKED_NAMES_MAX:
        _CHECKED_NAMES.clear()
    _CHECKED_NAMES.add(names)


def _flatten_into(flat: dict, name: str, value: Any, separator: str, max_depth: int, depth: int) -> None:
    """``value`` is a dict or a list. Hot path (references such as ``{"id", "name"}`` on every row): scalars
    below a dict are stored here rather than through another call."""
    if isinstance(value, dict) and value and depth <= max_depth:
        for key, inner in value.items():
            column = f"{name}{separator}{key}"
            if isinstance(inner, (dict, list)):
                _flatten_into(flat, column, inner, separator, max_depth, depth + 1)
            elif column in flat:
                _collision(column)
            else:
                flat[column] = inner
    else:
        _put(flat, name, to_json(value))


def _put(flat: dict, name: str, value: Any) -> None:
    if name in flat:
        _collision(name)
    flat[name] = value


def _collision(name: str) -> None:
    raise ValueError(f"flattening produced the column {name!r} twice (a key of that name and a nested key "
                     "that flattens to it); rename one of them")


FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False}


def to_flag(value, words: dict[str, bool] = FLAG_WORDS) -> bool | None:
    """A flag as the source writes it: a bool as it is, blank as None, one of ``words`` in any case; else a
    ValueError (for ``ValueTyper``, or for the connector to name the field)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    flag = words.get(text)
    if flag is None:
        raise ValueError(f"expected a boolean ({', '.join(words)}), got {value!r}")
    return flag


class ValueTyper:
    """Converts the typed columns of rows (dates, flags, amounts) for one sync.

    The sources' types are loose: one odd value (``"…"``, ``"N/A"`` in a date) must not stop every sync from then
    on, nor drop its row. So a value the converter refuses (ValueError) leaves the typed column null and is kept,
    as the source's text, in ``<column>_raw``; ``warn`` is told once per column and sync (``where`` names it).
    """

    def __init__(self, warn: Callable[[str], None]):
        self.warn = warn
        self.refused: set[str] = set()

    def convert(self, row: dict, columns: Iterable[str], converter: Callable[[Any], Any], where: str = "") -> None:
        for name in columns:
            if name not in row:
                continue
            try:
                row[name] = converter(row[name])
            except ValueError as error:
                row[f"{name}_raw"], row[name] = str(row[name]), None
                column = f"{where}{name}"
                if column not in self.refused:
                    self.refused.add(column)
                    self.warn(f"{column}: {error}; that value is kept as text in {name}_raw and {name} is null "
                              "(further such values of this column are not logged)")
