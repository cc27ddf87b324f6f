"""Customer Thermometer API helpers: list methods as typed rows, numeric metrics, and the date-window walk.

The connector (connector.py) decides what to emit and when to checkpoint; this module only talks to the API and
shapes its answers. Every message it raises has been through the client's Redactor: bodies can quote the key.

Public: ListMethod, BLAST_RESULTS, COMMENTS, RECIPIENT_LISTS, THERMOMETERS, METRICS, ErrorText, WindowTooFull,
Window, fetch_rows, fetch_metric, walk_windows
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

# The suite's helpers: UTC timestamps, flattening, hardened streaming XML, the redacting HTTP client.
from shared import timestamps
from shared.flatten import ValueTyper, flatten_record, to_flag
from shared.http_client import Client
from shared.parsing import PayloadError, xml_rows

WINDOW_GROWTH_MAX = 4  # a window after a sparse one is at most this many times longer
# The share of the limit a window aims at: half at first and after a full answer (responses cluster after a blast),
# then a tenth more after each complete one, up to 85%: steady data takes fewer, fuller calls.
FILL_FIRST, FILL_STEP, FILL_MAX = 0.5, 0.1, 0.85
FLAG_COLUMNS = frozenset({"response_bounced", "comment_hidden"})  # "1"/"0" in the XML
DATE_COLUMNS = frozenset({"response_date", "blast_date", "date_submitted"})
_NUMBER = re.compile(rb"[+-]?\d+(?:\.\d+)?")
_EXCERPT_CHARS = 160
_BOM = b"\xef\xbb\xbf"  # some servers put one before a plain-text body too


@dataclass(frozen=True)
class ListMethod:
    """A ``getMethod`` that answers ``<root><row>...</row>...</root>``, and the table it fills."""
    table: str
    method: str
    root: str
    row: str
    key: str
    window_date: str | None = None  # the row date the fromDate/toDate filter is assumed to apply to


BLAST_RESULTS = ListMethod("blast_result", "getBlastResults", "thermometer_blast_responses",
                           "thermometer_blast_response", "response_id", "response_date")
COMMENTS = ListMethod("comment", "getComments", "comments", "comment", "response_id", "date_submitted")
RECIPIENT_LISTS = ListMethod("recipient_list", "getRecipientLists", "recipient_lists", "recipient_list", "id")
THERMOMETERS = ListMethod("thermometer", "getThermometers", "thermometers", "thermometer", "id")

# (metric name in the table, getMethod, takes a date window, needs a limit: without one it counts only the
# latest 100 results; getNumResponsesValue and getNPSValue count every result in the window by default)
METRICS = (
    ("num_responses", "getNumResponsesValue", True, False),
    ("response_rate", "getResponseRateValue", True, True),
    ("temp_rating", "getTempRatingValue", True, True),
    ("nps", "getNPSValue", True, False),
    ("happiness", "getHappinessValue", True, True),
    ("send_quota", "getSendQuota", False, False),
)


class ErrorText(PayloadError):
    """The API answered plain text (its way of reporting an error, e.g. a rejected key) instead of data."""


class WindowTooFull(RuntimeError):
    """A single day holds more rows than the API will return in one call: reading on would lose rows."""


@dataclass(frozen=True)
class Window:
    first: date
    last: date
    rows: list
    next_days: int  # the length the walk tries next: a resumed walk can start with it


def fetch_rows(http: Client, base_url: str, method: ListMethod, params: dict, typer: ValueTyper) -> list[dict]:
    """Every row of one call as a flat, typed dict; anything but the documented XML raises PayloadError."""
    what = describe(method.method, params)
    response = http.get(base_url, params={"getMethod": method.method, **params}, description=what)
    body = response.content
    failure = _error_text(what, body, "XML")
    if failure is None:
        try:
            return [to_row(record, method, typer) for record in xml_rows([body], root=method.root, row=method.row)]
        except PayloadError as error:
            failure = PayloadError(f"{what}: {error}")
    # Raised outside the except block, redacted: a body (quoted in the message) can echo the key.
    raise type(failure)(http.redactor.redact(failure))


def fetch_metric(http: Client, base_url: str, method: str, params: dict) -> float:
    """The bare number a metric method answers; any other body fails (it is an error text, not zero)."""
    what = describe(method, params)
    response = http.get(base_url, params={"getMethod": method, **params}, description=what)
    body = response.content.strip().removeprefix(_BOM).strip()
    if _NUMBER.fullmatch(body):
        return float(body)
    failure = _error_text(what, body, "a number") or PayloadError(
        f"{what} answered {_excerpt(body)!r} instead of a number")
    raise type(failure)(http.redactor.redact(failure))


def describe(method: str, params: dict) -> str:
    """How a call is named in logs and errors: the method and its window, never the URL (it holds the key)."""
    window = f" {params['fromDate']}..{params['toDate']}" if "fromDate" in params else ""
    return f"{method}{window}"


def _error_text(what: str, body: bytes, expected: str) -> PayloadError | None:
    """An ErrorText when the body is plain text rather than markup (how this API reports errors), else None."""
    start = body.lstrip().removeprefix(_BOM)[:1]
    if not start or start == b"<" or _NUMBER.fullmatch(body.strip()):
        return None
    return ErrorText(f"{what} answered an error text instead of {expected}: {_excerpt(body)!r}")


def _excerpt(body: bytes) -> str:
    return " ".join(body[: _EXCERPT_CHARS * 4].decode("utf-8", "replace").split())[:_EXCERPT_CHARS]


def to_row(record: dict, method: ListMethod, typer: ValueTyper) -> dict:
    """Flatten nested elements to ``a_b`` columns, type the known flags and dates, and require the key.

    A flag or date that does not parse (their formats are unconfirmed) is kept as text in ``<column>_raw``."""
    row = flatten_record(record)  # a flat row (the usual case) comes back as a plain copy
    if row.get(method.key) in (None, ""):
        raise PayloadError(f"a row has no {method.key} (its fields: {', '.join(sorted(row)[:15])})")
    typer.convert(row, FLAG_COLUMNS & row.keys(), to_flag, where=f"{method.table}.")
    typer.convert(row, DATE_COLUMNS & row.keys(), to_utc, where=f"{method.table}.")
    return row


def to_utc(value) -> str | None:
    """A date or date-time as UTC ISO-8601. The API names no timezone: a value without an offset is taken as UTC.

    Empty values and MySQL's zero date ``0000-00-00`` are None.
    """
    text = "" if value is None else str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return None
    try:
        return timestamps.to_utc_iso(text)
    except ValueError:
        failure = f"{text!r} is not a date or date-time such as 2024-01-31 13:45:00"
    raise ValueError(failure)


def day_of(row: dict, column: str | None) -> date | None:
    """The UTC day of a typed date column, or None."""
    value = row.get(column) if column else None
    return date.fromisoformat(value[:10]) if isinstance(value, str) and len(value) >= 10 else None


# --- the window walk ----------------------------------------------------------------------------------------

def walk_windows(fetch: Callable[[date, date, int], list], first_day: date, last_day: date, *, row_limit: int,
                 day_row_limit: int, date_column: str | None, log, first_days: int | None = None,
                 label: str = "windows") -> Iterator[Window]:
    """Consecutive windows from ``first_day`` to ``last_day``, oldest first, each read completely.

    ``fetch(from, to, limit)`` makes one call; ``label`` (the table) starts each log line. The API silently keeps
    only the latest ``limit`` rows, so a window answered with ``row_limit`` rows is narrowed and read again; a
    single full day is read once more with ``day_row_limit`` (see ``_read_whole``). The first window spans the
    whole range (an empty decade costs one call), or ``first_days`` (the size a resumed walk had reached). Later
    ones are sized from the density just seen, aiming at a share of the limit that starts at half and grows
    while answers stay below it (``FILL_FIRST``, ``FILL_STEP``, ``FILL_MAX``). After a full window, empty
    windows reach at most half way to its end (a bisection: an empty stretch before dense data costs a few cheap
    empty answers rather than repeated full ones) until rows show the density.
    toDate is taken to be inclusive, but a multi-day window is followed by one that starts on its last day, so
    that no day of it is lost if toDate turned out to be exclusive; a one-day window that comes back empty (as
    every one would, were toDate exclusive) is read again as a two-day window (``_read_lone_day``). Upserts by key
    absorb the re-read rows.
    """
    start, span, full_end = first_day, first_days or (last_day - first_day).days + 1, None
    aim = FILL_FIRST
    while start <= last_day:
        if full_end is not None and start < full_end:
            span = min(span, max(1, ((full_end - start).days + 1) // 2))
        end = min(start + timedelta(days=span - 1), last_day)
        rows = fetch(start, end, row_limit)
        if not rows and start == end:
            end = start + timedelta(days=1)
            rows = _read_lone_day(fetch, start, end, row_limit, day_row_limit, log, label)
        elif len(rows) >= row_limit and start < end:
            aim = FILL_FIRST
            span, full_end = _narrower_span(rows, start, end, row_limit, date_column), end
            log.info(f"{label}: {start}..{end} came back full ({len(rows)} rows, the limit): reading {span}-day "
                     f"windows")
            continue
        elif len(rows) >= row_limit:
            log.info(f"{label}: {start} alone holds {row_limit} rows or more: reading it with limit={day_row_limit}")
            rows = _read_whole(fetch, start, end, row_limit, day_row_limit)
        aim = min(FILL_MAX, aim + FILL_STEP)
        span = _wider_span(len(rows), (end - start).days + 1, row_limit, aim)
        if full_end is not None and not rows:  # bisect towards the data (the cap above halves the rest)
            span = (full_end - end).days + 1
        full_end = None if rows else full_end
        if end > start:  # the next window re-reads this one's last day, so it must reach one day further
            next_start, span = end, max(span, 2)
        else:
            next_start = end + timedelta(days=1)
        yield Window(start, end, rows, span)
        if end >= last_day:
            return
        start = next_start


def _read_lone_day(fetch, day: date, next_day: date, row_limit: int, day_row_limit: int, log, label: str) -> list:
    """An empty one-day window read again as ``day..next_day``: if toDate were exclusive (unconfirmed), ``day..day``
    would always be empty and that day's rows lost. With an inclusive toDate this reads the next day's rows, which
    the next window reads again. Full at ``row_limit``, it is read whole with ``day_row_limit``, since a narrower
    window would be the empty one-day window again."""
    rows = fetch(day, next_day, row_limit)
    if len(rows) < row_limit:
        return rows
    log.info(f"{label}: {day}..{next_day} holds {row_limit} rows or more after an empty {day}..{day}: reading it "
             f"with limit={day_row_limit}")
    return _read_whole(fetch, day, next_day, row_limit, day_row_limit)


def _read_whole(fetch, first: date, last: date, row_limit: int, day_row_limit: int) -> list:
    """A window that cannot be split further, read once with the largest limit; fail rather than lose rows.

    The answer is complete only if it is below ``day_row_limit`` and not exactly ``row_limit`` (which would mean
    the API caps every call at that size whatever limit is asked for).
    """
    rows = fetch(first, last, day_row_limit)
    if len(rows) < day_row_limit and len(rows) != row_limit:
        return rows
    what = f"{first}" if first == last else f"{first}..{last}"
    reason = (f"returned exactly {row_limit} rows again with limit={day_row_limit}, so the API seems to cap every "
              f"call at {row_limit}" if len(rows) == row_limit else
              f"holds {len(rows)} rows or more, the most one call returns (limit={day_row_limit})")
    raise WindowTooFull(f"{what} {reason}; a day cannot be split further, so the sync stops instead of skipping rows")


def _narrower_span(rows: list, start: date, end: date, row_limit: int, date_column: str | None) -> int:
    """Days for the next try after a full window, aiming at half a limit: at most half the days, less if the
    rows that came back say so.

    Only a size hint (correctness comes from re-reading until no window is full): the density of the rows that
    came back, and the day of the earliest one, since the API keeps the latest rows, so that day is where the
    cut fell (a busy day then gets a window of its own quickly).
    """
    days = (end - start).days + 1
    seen = sorted(d for d in (day_of(row, date_column) for row in rows) if d is not None and start <= d <= end)
    estimate = days // 2
    if seen:
        covered_days = (seen[-1] - seen[0]).days + 1
        estimate = covered_days * int(row_limit * FILL_FIRST) // len(rows)
        if seen[0] > start:
            estimate = min(estimate, (seen[0] - start).days)
    return max(1, min(days // 2, estimate))


def _wider_span(row_count: int, days: int, row_limit: int, aim: float = FILL_FIRST) -> int:
    """Days for the next window after a complete one: about ``aim`` of a limit at the density just seen."""
    if row_count == 0:
        return days * WINDOW_GROWTH_MAX
    return max(1, min(days * WINDOW_GROWTH_MAX, days * int(row_limit * aim) // row_count))
