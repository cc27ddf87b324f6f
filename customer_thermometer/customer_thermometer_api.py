"""Customer Thermometer API helpers: list methods as typed rows, numeric metrics, and the date-window walk.

The connector (connector.py) decides what to emit and when to checkpoint; this module only talks to the API and
shapes its answers. Every message it raises has been through the client's Redactor: bodies can quote the key.

Public: ListMethod, BLAST_RESULTS, COMMENTS, RECIPIENT_LISTS, THERMOMETERS, METRICS, ErrorText, WindowTooFull,
Window, fetch_rows, fetch_metric, walk_windows
"""

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

# The suite's helpers: UTC timestamps, flattening, hardened streaming XML, the redacting HTTP client.
from shared import timestamps
from shared.flatten import ValueTyper, flatten_record, to_flag
from shared.http_client import Client
from shared.parsing import PayloadError, xml_rows

WINDOW_GROWTH_MAX = 4  # a window reaches at most this many times the last one's length into unknown days
# The share of the limit a window aims at where it has to guess: half at first and after a full answer (responses
# cluster after a blast), then a tenth more after each complete one, up to 85%: steady data takes fewer, fuller
# calls. Where a full answer has shown the rows of each day, 90%.
FILL_FIRST, FILL_STEP, FILL_MAX, FILL_KNOWN = 0.5, 0.1, 0.85, 0.9
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
    start = body.lstrip().removeprefix(_BOM).lstrip()[:1]
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
    only the latest ``limit`` rows, so a window answered with ``row_limit`` rows is narrowed (to at most half) and
    read again; a single full day is read once more with ``day_row_limit`` (see ``_read_whole``). The first window
    spans the whole range (an empty decade costs one call), or ``first_days`` (the size a resumed walk had
    reached); ``_Plan`` sizes every later one from what the answers so far have shown.
    toDate is taken to be inclusive, but a multi-day window is followed by one that starts on its last day, so
    that no day of it is lost if toDate turned out to be exclusive; a one-day window that comes back empty (as
    every one would, were toDate exclusive) is read again as a two-day window (``_read_lone_day``). Upserts by key
    absorb the re-read rows.
    """
    plan = _Plan(row_limit, date_column)
    start = first_day
    end = last_day if first_days is None else min(last_day, start + timedelta(days=first_days - 1))
    while True:
        rows = fetch(start, end, row_limit)
        if not rows and start == end:
            end = start + timedelta(days=1)
            rows = _read_lone_day(fetch, start, end, row_limit, day_row_limit, log, label)
        elif len(rows) >= row_limit and start < end:
            plan.saw_full(rows, start, end)
            full_end, end = end, plan.next_end(start, last_day, narrowing=end)
            log.info(f"{label}: {start}..{full_end} came back full ({len(rows)} rows, the limit): reading "
                     f"{start}..{end} instead")
            continue
        elif len(rows) >= row_limit:
            log.info(f"{label}: {start} alone holds {row_limit} rows or more: reading it with limit={day_row_limit}")
            rows = _read_whole(fetch, start, end, row_limit, day_row_limit)
        plan.saw_complete(rows, start, end)
        if end >= last_day:
            yield Window(start, end, rows, 1)
            return
        # the next window re-reads a multi-day window's last day (toDate might be exclusive), so it spans 2+ days
        next_start = end if end > start else end + timedelta(days=1)
        next_end = plan.next_end(next_start, last_day, at_least_days=2 if end > start else 1)
        yield Window(start, end, rows, (next_end - next_start).days + 1)
        start, end = next_start, next_end


class _Plan:
    """What the answers so far say about the days ahead, to size the next window. Only a size hint: correctness
    comes from reading again every window that comes back full.

    ``known`` holds rows per day as answers showed them: every day of a complete window, and the days of a full
    answer after its earliest one (the API keeps the latest rows, so those days came back whole, if "latest" is by
    the filtered date, which is unconfirmed). A window may take ``FILL_KNOWN`` of the limit in such rows. Other
    days are estimated at the density last seen, aiming at a share of the limit that starts at half and grows
    after each complete window (``FILL_FIRST``, ``FILL_STEP``, ``FILL_MAX``): responses cluster after a blast, so
    a guess is kept modest. A window reaches at most ``WINDOW_GROWTH_MAX`` times the last one's length into days
    nothing is known of. After a full window, empty windows reach at most half way to its cut (a bisection: an
    empty stretch before dense data costs a few cheap empty answers rather than repeated full ones).
    """

    def __init__(self, row_limit: int, date_column: str | None):
        self.row_limit, self.date_column = row_limit, date_column
        self.known: dict[date, int] = {}
        self.density = 0.0  # rows per day, for days not in ``known``
        self.aim = FILL_FIRST
        self.last_days: int | None = None  # the length of the last complete window
        self.bisect_to: date | None = None  # set by a full answer, kept while the windows after it are empty

    def saw_full(self, rows: list, start: date, end: date) -> None:
        counts = self._days(rows, start, end)
        self.aim = FILL_FIRST
        if not counts:  # no dates to go by: half the window, at the density it showed
            self.density, self.bisect_to = len(rows) / ((end - start).days + 1), end
            return
        cut = min(counts)  # the day the API's cut fell on: it may hold more rows than came back
        for day in _days_between(start, end):
            if day >= cut:  # the cut's own count is only a floor: it may hold more than came back
                self.known[day] = counts.get(day, 0)
            else:
                self.known.pop(day, None)
        self.density = len(rows) / ((max(counts) - cut).days + 1)
        self.bisect_to = cut

    def saw_complete(self, rows: list, start: date, end: date) -> None:
        counts = self._days(rows, start, end)
        for day in _days_between(start, end):
            self.known[day] = counts.get(day, 0)
        # the density from the first row on: data that begins inside the window is not diluted by the empty days
        self.density = len(rows) / ((end - min(counts)).days + 1) if counts else len(rows) / ((end - start).days + 1)
        self.aim = min(FILL_MAX, self.aim + FILL_STEP)
        self.last_days = (end - start).days + 1
        if rows:
            self.bisect_to = None

    def next_end(self, start: date, last_day: date, *, at_least_days: int = 1, narrowing: date | None = None) -> date:
        """The last day of the next window from ``start``: as far as the rows expected stay within the limit's
        share. ``narrowing``: the end of the full window just read from ``start``, of which it takes at most half.
        """
        limit, unknown_days = last_day, WINDOW_GROWTH_MAX * self.last_days if self.last_days else None
        if self.bisect_to is not None and start < self.bisect_to and not narrowing:
            limit, unknown_days = start + timedelta(days=(self.bisect_to - start).days // 2), None
        if narrowing is not None:
            limit = min(limit, start + timedelta(days=((narrowing - start).days + 1) // 2 - 1))
        budget = self.row_limit * FILL_KNOWN
        guess = self.density * FILL_KNOWN / self.aim  # a day's share of the budget when nothing is known of it
        end, expected, day = start, 0.0, start
        while day <= limit:
            rows = self.known.get(day)
            if rows is None:
                rows = guess
                if unknown_days is not None:
                    unknown_days -= 1
            if day > start and (expected + rows > budget or (unknown_days is not None and unknown_days < 0)):
                break
            end, expected, day = day, expected + rows, day + timedelta(days=1)
        return max(end, min(start + timedelta(days=at_least_days - 1), last_day))

    def _days(self, rows: list, start: date, end: date) -> Counter:
        """Rows per UTC day inside the window (a row outside it, e.g. by the account's timezone, says nothing)."""
        days = (day_of(row, self.date_column) for row in rows)
        return Counter(day for day in days if day is not None and start <= day <= end)


def _days_between(start: date, end: date) -> Iterator[date]:
    return (start + timedelta(days=n) for n in range((end - start).days + 1))


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
