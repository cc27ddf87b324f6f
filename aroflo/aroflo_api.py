"""AroFlo's zone API: request signing, query strings, body status codes, paging and row typing.

Everything here is specific to ``https://api.aroflo.com/`` (contract: shared/sources/aroflo.md) and free of
``op`` and ``state``: connector.py decides what to upsert and when to checkpoint.

- ``AroFloHmacAuth`` signs every attempt (retries included) with a fresh ``afdatetimeutc``: HMAC-SHA512, lower-case
  hex, over ``GET+[HostIP+]+Accept+Authorization+afdatetimeutc+varString`` where varString is the query string of
  the URL actually sent. It signs GET only, so the connector cannot write (e.g. reset ``postable``).
- ``build_query`` writes the query string itself, in a fixed order and percent-encoding, so what is signed and
  what is sent are the same bytes.
- ``ZoneApi.pages`` walks ``page``/``pageSize``; a body ``status`` other than "0" is an error even on HTTP 200,
  and a body status on an HTTP error (4xx/5xx) follows the same rules (``status_on_http_error``).

Public: AroFloHmacAuth, build_query, status_on_http_error, ZoneApi, ZonePage, AroFloError, AuthenticationFailed,
DailyLimitReached, RowSpec, to_row, utc_text, date_text, auth_advice
"""

import hashlib
import hmac
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import requests
from requests.auth import AuthBase

from shared import http_client, timestamps
from shared.flatten import FLAG_WORDS, ValueTyper, fits_decimal, flatten_record, to_decimal, to_flag
from shared.parsing import PayloadError, json_body, require

ACCEPT_JSON = "text/json"
THROTTLE_STATUSES = frozenset({6, 429})  # per-second / per-minute limits: back off and retry
HEAVY_STATUSES = frozenset({8, 888888})  # response over 3.5 MB / query over 60 s: smaller pages
DAILY_LIMIT_STATUS = 7
AUTH_STATUS = -99999
CONFIGURATION_STATUSES = frozenset({1, 2, 3, 4, 20, 30})  # API access not enabled, permissions, ...
CLOCK_SKEW_NOTICE_S = 30  # the Date header has whole seconds; a smaller difference is not the cause
THROTTLE_BACKOFF_BASE_S = 5.0
THROTTLE_BACKOFF_CAP_S = 60.0
DEFAULT_FILTER_MARKER = "default filter applied"
MONEY_PRECISION, MONEY_SCALE = 18, 4  # money columns are DECIMAL(18,4): 14 digits before the point, 4 after
# AroFlo's own forms: 2023/05/23 23:28:15, 2018-10-16 13:30:19.58, 2023/12/18 (no zone); ISO goes to parse_iso.
_AROFLO_TIME = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?: (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?")
AUTH_ADVICE = ("Either the credentials are wrong (check uencoded, pencoded, orgencoded and secret_key under "
               "Site Administration > Settings > General > AroFlo API; uEncoded changes when the username changes, "
               "and the secret key is shown only once) or this machine's clock is off (every request carries "
               "its UTC time in afdatetimeutc and AroFlo refuses one outside a small window: sync the clock "
               "with NTP)")
HOST_IP_ADVICE = (", or host_ip is not the public IP address this machine calls AroFlo from (it is signed into every "
                  "request: leave host_ip empty unless the API setup requires it)")


def auth_advice(host_ip: str | None) -> str:
    """What to check after an authentication failure; a configured HostIP is one more thing that can be wrong."""
    return AUTH_ADVICE + (HOST_IP_ADVICE if host_ip else "")


class AroFloError(Exception):
    """AroFlo answered with a body status that is not a success."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthenticationFailed(AroFloError):
    """Status -99999: wrong credentials, a bad signature or a clock outside AroFlo's window."""

    def __init__(self, message: str, clock_skew_s: float | None = None):
        super().__init__(message, AUTH_STATUS)
        self.clock_skew_s = clock_skew_s


class DailyLimitReached(AroFloError):
    """Status 7: the site's 2,000 requests of the day are spent (reset at 00:00 Australia/Melbourne)."""


class _TooHeavy(AroFloError):
    """Status 8 or 888888: the page is too large or too slow; ask again with fewer rows."""


# --- signing ----------------------------------------------------------------------------------------------------

def authorization_value(uencoded: str, pencoded: str, orgencoded: str) -> str:
    """The ``Authorization`` header: lower-case ``uencoded``/``pencoded``, camel-case ``orgEncoded``."""
    return (f"uencoded={quote(uencoded, safe='')}&pencoded={quote(pencoded, safe='')}"
            f"&orgEncoded={quote(orgencoded, safe='')}")


def af_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2018-07-25T01:39:57.135Z``."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AroFloHmacAuth(AuthBase):
    """Signs each prepared request; requests calls it again for every retry, so each attempt is fresh."""

    def __init__(self, uencoded: str, pencoded: str, orgencoded: str, secret_key: str, *,
                 host_ip: str | None = None, accept: str = ACCEPT_JSON, clock: Callable[[], datetime] | None = None):
        self._secrets = (uencoded, pencoded, orgencoded, secret_key)
        self._authorization = authorization_value(uencoded, pencoded, orgencoded)
        self._key = secret_key.encode()
        self._host_ip = host_ip
        self._accept = accept
        self._clock = clock
        self._last_moment: datetime | None = None
        self._recent_signatures: deque[str] = deque(maxlen=16)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.method != "GET":
            raise ValueError(f"the AroFlo connector is read-only and does not sign {request.method} requests")
        timestamp = af_timestamp(self._next_moment())
        parts = ["GET", *([self._host_ip] if self._host_ip else []), "", self._accept, self._authorization,
                 timestamp, urlsplit(request.url).query]
        signature = hmac.new(self._key, "+".join(parts).encode(), hashlib.sha512).hexdigest()
        self._recent_signatures.append(signature)
        request.headers.update({"Authentication": f"HMAC {signature}", "Authorization": self._authorization,
                                "afdatetimeutc": timestamp, "Accept": self._accept})
        if self._host_ip:
            request.headers["HostIP"] = self._host_ip
        return request

    def _next_moment(self) -> datetime:
        """Now, to the millisecond, and later than the previous attempt's: two attempts never share a stamp
        (AroFlo wants a new one per request; a retry without backoff can come within the same millisecond)."""
        moment = (self._clock() if self._clock else _utc_now()).astimezone(timezone.utc)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if self._last_moment is not None and moment <= self._last_moment:
            moment = self._last_moment + timedelta(milliseconds=1)
        self._last_moment = moment
        return moment

    def secret_values(self) -> list[str]:
        """For the Client's redactor: the four credentials and the latest signatures."""
        return [*self._secrets, *self._recent_signatures]

    def __repr__(self) -> str:
        return f"AroFloHmacAuth(credentials=***, host_ip={'set' if self._host_ip else 'unset'})"


# --- requests ---------------------------------------------------------------------------------------------------

def build_query(zone: str, *, where: tuple[str, ...] | list[str] = (), order: tuple[str, ...] | list[str] = (),
                page: int | None = None, page_size: int | None = None) -> str:
    """``zone=..&where=..&order=..&page=..&pageSize=..`` with every value percent-encoded (``|`` is ``%7C``)."""
    pairs = [("zone", zone), *(("where", clause) for clause in where), *(("order", o) for o in order)]
    if page is not None:
        pairs.append(("page", str(page)))
    if page_size is not None:
        pairs.append(("pageSize", str(page_size)))
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in pairs)


class StatusOnHttpError(Exception):
    """An HTTP error whose JSON body carries AroFlo's ``status``: AroFlo's own answer, not a transport failure."""

    def __init__(self, response: requests.Response):
        super().__init__(f"HTTP {response.status_code} with an AroFlo body status")
        self.response = response


def status_on_http_error(response: requests.Response) -> None:
    """The Client's ``on_response`` hook: hand a 4xx/5xx with a non-zero body ``status`` to ZoneApi's rules.

    Which HTTP status accompanies a body error is unconfirmed; without this, status 7 on an HTTP 429 or status 8
    on an HTTP 500 would be retried as a generic HTTP error and fail the sync instead of ending it cleanly or
    asking for smaller pages. A body without ``status`` (a proxy's error page) keeps the generic HTTP rules.
    """
    if response.status_code < 400:
        return
    try:
        body = response.json()
        status = int(str(body["status"]).strip())
    except (ValueError, TypeError, KeyError):
        return
    if status != 0:
        raise StatusOnHttpError(response)


@dataclass
class ZonePage:
    rows: list[dict]
    page: int
    page_size: int


@dataclass
class ZoneApi:
    """One sync's access to the zone API: the Client (signing, retries, rate limit) and the body-status rules."""

    client: http_client.Client
    base_url: str
    attempts: int = 4  # for throttling answers (6/429) in the body; HTTP-level retries are the Client's
    log: object = None
    debug: bool = False
    typer: ValueTyper | None = None  # the sync's typing of row values (see to_row)
    auth_advice: str = AUTH_ADVICE
    requests_made: int = field(default=0, init=False)
    daily_remaining: str | None = field(default=None, init=False)  # X-RateLimit-Daily-Remaining, when sent

    def get(self, query: str, what: str) -> dict:
        """The body of one signed GET whose ``status`` is "0"; throttling is retried, everything else raises."""
        attempt = 0
        while True:
            attempt += 1
            if self.debug:
                self.log.info(f"AroFlo request: {what} ({query})")
            try:
                response = self.client.get(f"{self.base_url}/?{query}", description=f"AroFlo {what}")
            except StatusOnHttpError as answer:
                response = answer.response
            self.requests_made += 1
            self.daily_remaining = response.headers.get("X-RateLimit-Daily-Remaining", self.daily_remaining)
            body = json_body(response, self.client.redactor)
            status, message = _status_of(body, what)
            if status == 0:
                if DEFAULT_FILTER_MARKER in message.lower():
                    raise AroFloError(f"AroFlo {what}: the request reached AroFlo without its WHERE clause and got "
                                      f"the 30-day default filter ({message!r}); this is a bug in the connector")
                return body
            if status in THROTTLE_STATUSES and attempt < self.attempts:
                wait_s = _throttle_wait_s(response, attempt)
                self.log.warning(f"AroFlo {what}: status {status} ({self._redact(message)}): rate limited; "
                                 f"retry {attempt} of {self.attempts - 1} in {wait_s:.1f}s")
                http_client.sleep(wait_s)
                continue
            raise self._error(status, message, what, response)

    def pages(self, zone: str, where: list[str], order: list[str], page_size: int) -> Iterator[ZonePage]:
        """Every page of one query, in order.

        The last page is the one with fewer rows than ``min(maxpageresults, pageSize sent)`` (AroFlo may keep
        ``maxpageresults`` at 500 under a smaller pageSize). Status 8 or 888888 halves the page size and asks again
        from the same row offset (page ``offset // size + 1``, skipping the ``offset % size`` rows already
        delivered), so a size change neither skips nor repeats a row; a ``maxpageresults`` below the size sent is
        taken as the size from then on, the same way. A page identical to the one before means the server ignores
        ``page``: that fails rather than loops.
        """
        offset, size, previous = 0, page_size, None
        while True:
            page, skip = divmod(offset, size)
            page += 1
            try:
                body = self.get(build_query(zone, where=where, order=order, page=page, page_size=size),
                                f"zone={zone} page {page}")
            except _TooHeavy as heavy:
                if size == 1:
                    raise AroFloError(f"AroFlo zone={zone}: {heavy} even with one row per page") from None
                size = max(1, size // 2)
                self.log.warning(f"AroFlo zone={zone}: {heavy}; asking again with pageSize={size}")
                continue
            rows, count, maximum = self._page_rows(body, zone, page, size)
            if rows and rows == previous:
                raise PayloadError(f"AroFlo zone={zone}: page {page} repeats page {page - 1} row for row; the "
                                   "server does not page this query")
            yield ZonePage(rows[skip:], page, size)
            offset, previous = (page - 1) * size + count, rows
            if count < min(maximum or size, size):
                return
            if maximum and maximum < size:
                # The server caps pages below the size sent: number the pages in its size, or page 2 of ours
                # would start rows after where the capped page 1 ended.
                self.log.warning(f"AroFlo zone={zone}: pages hold at most {maximum} rows (maxpageresults), "
                                 f"fewer than pageSize={size}; asking for {maximum} from here")
                size = maximum

    def _page_rows(self, body: dict, zone: str, page: int, size: int) -> tuple[list[dict], int, int | None]:
        """The page's rows, its row count for the end-of-data test, and ``maxpageresults``.

        The count is ``currentpageresults``, or the rows' number when it is missing or smaller (never end early).
        """
        rows, reported, maximum = _page_of(body, zone)
        count = len(rows) if reported is None else max(reported, len(rows))
        if reported is not None and reported != len(rows):
            self.log.warning(f"AroFlo zone={zone} page {page}: currentpageresults says {reported} rows, the page "
                             f"has {len(rows)}; paging on {count}")
        if count > size:
            raise PayloadError(f"AroFlo zone={zone}: page {page} has {count} rows for pageSize={size}; "
                               "the page numbering cannot be trusted")
        return rows, count, maximum

    def _error(self, status: int, message: str, what: str, response: requests.Response) -> AroFloError:
        on_http = f" on HTTP {response.status_code}" if response.status_code != 200 else ""
        text = f"AroFlo {what} answered status {status}{on_http} ({self._redact(message)})"
        if status == AUTH_STATUS:
            skew_s = clock_skew_s(response)
            skew = ""
            if skew_s is not None and abs(skew_s) >= CLOCK_SKEW_NOTICE_S:
                skew = f" This machine's clock is {abs(skew_s):.0f}s {'ahead of' if skew_s > 0 else 'behind'} AroFlo's."
            return AuthenticationFailed(f"{text}: authentication failed. {self.auth_advice}.{skew}", skew_s)
        if status == DAILY_LIMIT_STATUS:
            return DailyLimitReached(f"{text}: the daily limit of 2,000 requests is spent; it resets at 00:00 "
                                     "Australia/Melbourne time", status)
        if status in HEAVY_STATUSES:
            return _TooHeavy(f"status {status} ({self._redact(message)})", status)
        if status in CONFIGURATION_STATUSES:
            return AroFloError(f"{text}: API access is not enabled or not permitted for this user; check Site "
                               "Administration > Settings > General > AroFlo API and the user's permissions", status)
        if status in THROTTLE_STATUSES:
            return AroFloError(f"{text}: still rate limited after {self.attempts} attempts", status)
        return AroFloError(text, status)

    def _redact(self, text: str) -> str:
        return self.client.redactor.redact(text)


def _status_of(body, what: str) -> tuple[int, str]:
    """The body's ``status`` as an int (it comes as "0" or 0) and its ``statusmessage``."""
    raw = require(body, "status", where=f"AroFlo {what}")
    try:
        status = int(str(raw).strip())
    except ValueError:
        raise PayloadError(f"AroFlo {what}: body status {raw!r} is not a number") from None
    return status, str(body.get("statusmessage") or "")


def _page_of(body: dict, zone: str) -> tuple[list[dict], int | None, int | None]:
    """Rows, ``currentpageresults`` and ``maxpageresults`` as ints (they come as "500" or 500), None if absent."""
    response = require(body, "zoneresponse", where=f"AroFlo zone={zone}")
    if not isinstance(response, dict):
        raise PayloadError(f"AroFlo zone={zone}: zoneresponse is {type(response).__name__}, not an object")
    reported, maximum = (_optional_int(response.get(name), name) for name in ("currentpageresults", "maxpageresults"))
    rows = response.get(zone)
    if rows is None:  # another row key (the contract saw e.g. "items" on other zones): the one list there is
        lists = [value for value in response.values() if isinstance(value, list)]
        if len(lists) > 1 or (not lists and reported != 0):
            raise PayloadError(f"AroFlo zone={zone}: zoneresponse lacks {zone!r} (found {sorted(response)[:10]})")
        rows = lists[0] if lists else []
    if rows in ("", {}):  # no rows, as XML-to-JSON conversions write an empty element
        rows = []
    if isinstance(rows, dict):  # one row, as they write a single element
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise PayloadError(f"AroFlo zone={zone}: {zone!r} is not a list of objects")
    return rows, reported, maximum


def _optional_int(value, name: str) -> int | None:
    return None if value is None or value == "" else _as_int(value, name)


def _as_int(value, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise PayloadError(f"AroFlo: {name} {value!r} is not a number") from None


def _throttle_wait_s(response: requests.Response, attempt: int) -> float:
    """Retry-After when AroFlo sends one (undocumented), else exponential backoff with jitter."""
    retry_after = http_client.parse_retry_after(response, THROTTLE_BACKOFF_CAP_S)
    if retry_after is not None:
        return retry_after
    return min(THROTTLE_BACKOFF_CAP_S, THROTTLE_BACKOFF_BASE_S * 2 ** (attempt - 1)) * http_client.jitter(0.5, 1.0)


def clock_skew_s(response: requests.Response) -> float | None:
    """Seconds this machine is ahead of the server (from its ``Date`` header), or None."""
    try:
        server = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return (_utc_now() - server).total_seconds() if server.tzinfo else None


# --- rows -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowSpec:
    """How one zone's rows become destination rows: the key, typed fields and the seed's normalized names."""

    key: str
    times: tuple[str, ...] = ()  # datetimes -> UTC ISO-8601 (UTC_DATETIME)
    dates: tuple[str, ...] = ()  # calendar dates -> YYYY-MM-DD (NAIVE_DATE)
    booleans: tuple[str, ...] = ()  # "false" / "TRUE" -> bool
    money: tuple[str, ...] = ()  # "296.7600" -> exact decimal text (DECIMAL)
    texts: tuple[str, ...] = ()  # documented text fields (STRING), or the destination types them by their values
    json: tuple[str, ...] = ()  # kept whole (objects or lists that change shape) as JSON
    aliases: tuple[tuple[str, str], ...] = ()  # (normalized column, source column)

    def column_types(self, money_type: dict) -> dict:
        """Declared types. An undeclared column is typed by the destination from its values ("T" a boolean,
        "0800" a number), so the documented text fields, and the ``<field>_raw`` text of values that do not parse,
        are declared STRING."""
        types = {"id": "STRING", self.key: "STRING", **{name: "STRING" for name in self.texts}}
        types.update({name: "UTC_DATETIME" for name in self.times})
        types.update({name: "NAIVE_DATE" for name in self.dates})
        types.update({name: "BOOLEAN" for name in self.booleans})
        types.update({name: dict(money_type) for name in self.money})
        types.update({f"{name}_raw": "STRING" for name in (*self.times, *self.dates, *self.booleans, *self.money)})
        types.update({name: "JSON" for name in self.json})
        types.update({alias: types[source] for alias, source in self.aliases if source in types})
        return types


def to_row(record: dict, spec: RowSpec, zone: str, typer: ValueTyper) -> dict:
    """A flat, typed row with ``id`` from the zone's key, the normalized aliases, and every source field.

    A value that does not parse (AroFlo's types are loose) is kept as text in ``<field>_raw`` by ``typer``."""
    row = flatten_record(record, json_keys=set(spec.json))
    key = row.get(spec.key)
    if key is None or not str(key).strip():
        raise PayloadError(f"AroFlo zone={zone}: a row has no {spec.key}")
    for converter, names in ((utc_text, spec.times), (date_text, spec.dates), (_boolean, spec.booleans),
                             (_decimal_text, spec.money)):
        typer.convert(row, names, converter, where=f"{zone}.")
    for name in ("id", "ID", "Id", "iD"):  # a source field named id, in any case (destinations fold case)
        if name in row:
            row[f"source_{name}"] = row.pop(name)  # kept, without clashing with the key
    aliases = {alias: row[source] for alias, source in spec.aliases if source in row and alias not in row}
    return {"id": str(key), **aliases, **row}


def _parse_time(value) -> datetime | None:
    """``2023/05/23 23:28:15``, ``2018-10-16 13:30:19.58``, ``2023/12/18`` (naive: UTC) or ISO with an offset."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    match = _AROFLO_TIME.fullmatch(text)
    try:
        if match:
            year, month, day, hour, minute, second, fraction = match.groups()
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            int((fraction or "0").ljust(6, "0")), tzinfo=timezone.utc)
        return timestamps.parse_iso(text)
    except ValueError:
        raise ValueError(f"unrecognised date or time {value!r}") from None


def utc_text(value) -> str | None:
    """An AroFlo datetime as UTC ISO-8601; values without a zone are UTC; blanks ("" and " ") are None."""
    moment = _parse_time(value)
    return None if moment is None else timestamps.utc_iso(moment)


def date_text(value) -> str | None:
    """An AroFlo calendar date (``2023/12/18``) as ``2023-12-18``; blanks are None."""
    moment = _parse_time(value)
    return None if moment is None else moment.date().isoformat()


_FLAG_WORDS = {**FLAG_WORDS, "yes": True, "no": False}  # AroFlo writes "false", "TRUE" and the like


def _boolean(value) -> bool | None:
    return to_flag(value, _FLAG_WORDS)


def _decimal_text(value) -> str | None:
    """The amount as exact decimal text. An amount DECIMAL(18,4) cannot hold exactly (more than 4 decimal places
    that are not zeros, more than 14 digits before the point) is refused, so that ``typer`` keeps it in
    ``<field>_raw``: the destination would round it, or write null, without a word."""
    try:
        amount = to_decimal(value)
    except ValueError:
        raise ValueError(f"expected an amount such as '296.7600', got {value!r}") from None
    if amount is None:
        return None
    if not fits_decimal(amount, MONEY_PRECISION, MONEY_SCALE):
        raise ValueError(f"expected at most {MONEY_PRECISION - MONEY_SCALE} digits before the point and "
                         f"{MONEY_SCALE} decimal places (DECIMAL({MONEY_PRECISION},{MONEY_SCALE})), got {value!r}, "
                         "which the destination would round or write as null")
    return format(amount, "f")


def literal(moment: datetime | date) -> str:
    """A ``where`` literal: ``YYYY-MM-DD HH:mm:ss`` for a datetime, ``YYYY-MM-DD`` for a date (vendor forms)."""
    if isinstance(moment, datetime):
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()
