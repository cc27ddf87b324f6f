"""Pindrop connector: the nightly CSV reports blacklist, calls, audit, cases, account_risk and enrollment.

Source: Pindrop's nightly reports API (no public reference; shapes from one public client, see README).
Auth: OAuth2 client credentials (form body) at ``token_url``; the token is reused, renewed before it expires and
renewed once on a 401. Reports: ``GET {base_url}/v1/nightly_reports/{report_type}/{YYYY-MM-DD}`` answers one
day's whole report as CSV (header row first, no paging), streamed and parsed row by row.
Tables: one per report type, keyed by [report_date, id] ([report_date, phone_number] for blacklist); columns are
report_date, report_type and every CSV column. A row without its key value gets a key derived from its content
(see derived_key). Incremental: per report type, state holds the last day fully delivered; each sync asks for every
day after it (minus ``lookback_days``) up to today and checkpoints after each report. A 404 within
``missing_report_grace_days`` of today means "not generated yet": that type stops there and the day is asked again
next sync. An older 404 is logged as missing and passed. A report without rows for a day within that window is
asked for again each sync until it has rows or is older than the window. A 202/204 (never seen) counts as a 404;
a JSON, HTML or XML answer is an error, not an empty report. Any other failure fails the sync; progress stays put.
A report refused with an HTTP error (after retries) fails the sync only after the other report types are synced;
refused credentials, a malformed report and a connection lost mid-report fail it at once.
Quirks: the day's time zone is unknown, so report_date stays a plain string; a report never deletes rows.
"""

import hashlib  # content digests for derived keys
import json  # canonical form of a row for its digest
import sqlite3  # occurrence counts of derived keys, on disk rather than in memory
from collections import Counter  # header names that would fill the same column
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import requests  # type hints of streamed responses

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: configuration, transport with retries and OAuth2, progress lines, setup advice, saved state.
from shared import config
from shared.auth import OAuth2ClientCredentials, TokenRequestError
from shared.flatten import destination_name
from shared.http_client import Client, HttpError, RateLimiter
from shared.parsing import NotCsv, PayloadError, csv_rows, declared_charset
from shared.progress import TableProgress
from shared.runner import default_log_level
from shared.setup_check import explain_failure
from shared.state import day as saved_day
from shared.state import not_in_future, saved, table_entry

__REPORT_KEYS = {  # report type (= table) -> its key column; the fixed order in which a sync walks them
    "blacklist": "phone_number", "calls": "id", "audit": "id", "cases": "id", "account_risk": "id", "enrollment": "id",
}
__DEFAULT_TOKEN_URL = "https://auth.us2.pindrop.com/oauth2/token"
__DEFAULT_BASE_URL = "https://api2.us2.pindrop.com"
__DEFAULT_START_DAYS_AGO = 30
__DEFAULT_LOOKBACK_DAYS = 1
__DEFAULT_GRACE_DAYS = 3
__MAX_DAYS = 3650
__TIMEOUT_S = (10.0, 120.0)  # connect, read (between two pieces of a streamed body)
__FLUSH_EVERY_ROWS = 10_000  # inside a large report: checkpoint the unchanged state so the runner's buffer stays small
__LOG_EVERY_ROWS = 100_000
__ADDED_COLUMNS = ("report_date", "report_type")
__RENAMED_PREFIX = "csv_"  # a CSV column that would clash with an added or reserved column gets this prefix
__DIGEST_HEX_CHARS = 32  # 128 bits of SHA-256: collisions are not a practical concern
__PENDING_STATUSES = (202, 204)  # never seen from Pindrop; read like a 404 rather than as a report with no rows
__NOT_CSV_TYPES = ("json", "html", "xml")  # a Content-Type with one of these is a notice or a page, not a report
__EXCERPT_BYTES = 300
__TOKEN_HINT = "Check 'client_id' and 'client_secret' (and that 'token_url' is your Pindrop region's token endpoint)"
__REPORT_HINT = ("Pindrop refused the access token: check that 'base_url' is in the same region as 'token_url' and "
                 "that the client is allowed to read nightly reports")


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str = field(repr=False)
    start_date: date | None  # None: 30 days before today
    report_types: tuple[str, ...]
    lookback_days: int
    missing_report_grace_days: int
    token_url: str
    base_url: str
    requests_per_second: float | None


@config.quoting_no_secret("client_secret")
def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ValueError names the key and the expected form."""
    client_id = config.text(configuration, "client_id", required=True)
    client_secret = config.text(configuration, "client_secret", required=True, secret=True)
    start_date = config.day(configuration, "start_date", today=today_utc())
    chosen = config.items(configuration, "report_types", options=tuple(__REPORT_KEYS), default=tuple(__REPORT_KEYS))
    return Settings(
        client_id=client_id,
        client_secret=client_secret,
        start_date=start_date,
        report_types=tuple(kind for kind in __REPORT_KEYS if kind in chosen),
        lookback_days=config.integer(configuration, "lookback_days", default=__DEFAULT_LOOKBACK_DAYS, minimum=0,
                                     maximum=__MAX_DAYS),
        missing_report_grace_days=config.integer(configuration, "missing_report_grace_days",
                                                 default=__DEFAULT_GRACE_DAYS, minimum=0, maximum=__MAX_DAYS),
        token_url=config.url(configuration, "token_url", default=__DEFAULT_TOKEN_URL),
        base_url=config.url(configuration, "base_url", default=__DEFAULT_BASE_URL),
        requests_per_second=config.number(configuration, "requests_per_second", default=None, minimum=0) or None,
    )


def schema(configuration: dict):
    """One table per report type. Only the added and key columns are declared: the CSV columns are not documented,
    so they are taken from each report's header (every value is text)."""
    return [{"table": kind, "primary_key": ["report_date", key],
             "columns": {"report_date": "STRING", "report_type": "STRING", key: "STRING"}}
            for kind, key in __REPORT_KEYS.items()]


def update(configuration: dict, state: dict):
    """One sync: every configured report type in a fixed order, each from its own progress up to today (UTC)."""
    default_log_level(log)
    settings = validate_configuration(configuration)
    today = today_utc()
    http = new_client(settings)
    failed: list[Exception] = []
    try:
        for report_type in settings.report_types:
            try:
                sync_report_type(http, settings, state, report_type, today)
            except HttpError as error:
                if not report_failure_leaves_others(error):
                    raise
                # That type's progress stays before the failed report; the other types can still be synced.
                log.error(f"{report_type}: {error}; its progress stays before that report, the other report "
                           "types are synced first and the sync then fails")
                failed.append(error)
    finally:
        http.close()
    if failed:
        raise failed[0]


def report_failure_leaves_others(error: HttpError) -> bool:
    """A report refused with an HTTP error (after retries) need not stop the other types: the status comes before
    the body, so at most the rows of an earlier attempt cut off mid-body were upserted. Those are the report's own
    rows under their own keys; the type's progress stays before the report, so the next sync delivers it whole
    over them. Refused credentials would fail every type the same way.

    A failure while the body streams for good (a malformed report, a connection lost on every attempt) stops the
    sync at once, so a report that may be broken is not committed in part by the other types' checkpoints.
    """
    return not isinstance(error, TokenRequestError) and error.status not in (401, 403)


def new_client(settings: Settings) -> Client:
    """One session for the sync; token requests go through it without the bearer auth, reports with it."""
    limiter = RateLimiter.per(second=settings.requests_per_second) if settings.requests_per_second else None
    plain = Client(timeout_s=__TIMEOUT_S, limiter=limiter, auth_failure_hint=__TOKEN_HINT, log=log)
    oauth = OAuth2ClientCredentials(settings.token_url, settings.client_id, settings.client_secret, plain)
    return plain.with_auth(oauth, auth_failure_hint=__REPORT_HINT)


def sync_report_type(http: Client, settings: Settings, state: dict, report_type: str, today: date) -> None:
    """Every day from the type's progress (minus the lookback) up to today, and the recent days whose report came
    back empty; the same walk serves all six tables.

    ``state[report_type] = {"last_day_delivered": "YYYY-MM-DD", "empty_days": [...]}``. ``last_day_delivered``
    moves after each report that was delivered completely or is older than the grace window and has no report; it
    never moves back, unless it is after today (a host clock that ran ahead): the walk then starts again at the
    grace window, since the days that clock called old were passed as missing. ``empty_days`` (only while there
    are some) holds the days within the grace window whose report answered without rows: a nightly report may be
    published before it is filled, so each sync asks for them again until one has rows or is older than the window.
    """
    entry = table_entry(state, report_type)
    progress = TableProgress(report_type, log, unit="reports")
    last_day = entry.get("last_day_delivered") or None  # blank: none, as on a first sync
    if last_day is not None:
        last_day = saved(saved_day, last_day, f"{report_type} last_day_delivered", "a date (YYYY-MM-DD)")
        last_day = not_in_future(last_day, today, what=f"{report_type} last_day_delivered", log=log,
                                 restart=today - timedelta(days=settings.missing_report_grace_days + 1))
        entry["last_day_delivered"] = last_day.isoformat()  # compared as text below
    floor = settings.start_date or date.min  # a raised start date drops the empty days before it
    empty_days = {day.isoformat() for day in saved_days(entry.get("empty_days", []), report_type) if day >= floor}
    for day in days_to_fetch(last_day, empty_days, settings, today):
        recent = (today - day).days <= settings.missing_report_grace_days
        try:
            rows = deliver_report(http, settings, state, report_type, day)
        except (NoReport, NotAReport) as absent:
            if isinstance(absent, NotAReport) and not recent:  # not "pending" that late: a sign-in page, say
                raise
            if recent and day.isoformat() in empty_days:  # delivered (empty) before: the days after it go on
                log.info(f"{report_type}: the report for {day}, empty before, answers {absent.answer} now; "
                         "it is asked for again next sync")
                continue
            if day.isoformat() not in empty_days and last_day is not None and day <= last_day:
                # The lookback's re-read of a day delivered with rows: go on. (An empty day past the window takes
                # the path below, which makes it final and drops it from empty_days.)
                log.info(f"{report_type}: the report for {day}, delivered before, answers {absent.answer} "
                         "now; its rows stay as delivered")
                continue
            if recent:
                log.info(f"{report_type}: the report for {day} is not generated yet ({absent.answer}); "
                         "it is asked for again next sync")
                break
            log.warning(f"{report_type}: no report for {day} ({absent.answer}, older than "
                        f"{settings.missing_report_grace_days} days); passed as missing")
            rows = None
        note_empty_report(empty_days, report_type, day, rows, recent, settings.missing_report_grace_days)
        entry["last_day_delivered"] = max(entry.get("last_day_delivered") or "", day.isoformat())
        if empty_days:
            entry["empty_days"] = sorted(empty_days)
        else:
            entry.pop("empty_days", None)
        # Checkpoint: this (type, day) report is complete, so the next sync starts after it.
        op.checkpoint(state)
        progress.page_done(rows or 0, detail=f"report for {day}")
    progress.finished(f"delivered through {entry.get('last_day_delivered') or 'no day yet'}")


def saved_days(days: object, report_type: str) -> list[date]:
    """The state's empty days of one report type, as dates."""
    def read(values: object) -> list[date]:
        if not isinstance(values, list):
            raise TypeError("not a list")
        return [saved_day(value) for value in values]

    return saved(read, days, f"{report_type} empty_days", "a list of dates (YYYY-MM-DD)")


def note_empty_report(empty_days: set[str], report_type: str, day: date, rows: int | None, recent: bool,
                      grace_days: int) -> None:
    """Keep a recent day whose report had no rows (``rows`` 0; None: no report at all) to be asked for again."""
    key = day.isoformat()
    if rows == 0 and recent:
        if key not in empty_days:
            log.info(f"{report_type}: the report for {day} has no rows yet; it is asked for again each sync until "
                     f"it has rows or is older than {grace_days} days")
        empty_days.add(key)
        return
    if key in empty_days and rows:
        log.info(f"{report_type}: the report for {day}, empty before, now has {rows} rows")
    empty_days.discard(key)


def deliver_report(http: Client, settings: Settings, state: dict, report_type: str, day: date) -> int:
    """Upsert every row of one report and return how many (NoReport when there is none). A body cut off mid-read
    is downloaded again (keys are deterministic, so the repeated upserts are harmless)."""
    key_column = __REPORT_KEYS[report_type]

    def download() -> int:
        response = open_report(http, settings.base_url, report_type, day)
        rows = 0
        with response:
            for record in report_records(response, report_type, day, key_column, redact=http.redactor.redact):
                # Upsert: the row replaces any earlier copy with the same report_date and key.
                op.upsert(table=report_type, data=record)
                rows += 1
                if rows % __FLUSH_EVERY_ROWS == 0:
                    # Checkpoint the unchanged state: flushes the runner's buffer, claims nothing about this report.
                    op.checkpoint(state)
                if rows % __LOG_EVERY_ROWS == 0:
                    log.info(f"{report_type}: report for {day}: {rows} rows so far")
        return rows

    return http.call_with_retries(f"{report_type} report for {day}", download)


def days_to_fetch(last_day_delivered: date | None, empty_days: set[str], settings: Settings,
                  today: date) -> list[date]:
    """In date order: from the day after the progress minus the lookback (or the start date on a first sync)
    through today, and the days whose report was empty."""
    if last_day_delivered is None:
        first = settings.start_date or today - timedelta(days=__DEFAULT_START_DAYS_AGO)
    else:
        first = last_day_delivered + timedelta(days=1 - settings.lookback_days)
        if settings.start_date is not None:
            first = max(first, settings.start_date)
    walk = {first + timedelta(days=offset) for offset in range((today - first).days + 1)}
    walk.update(map(date.fromisoformat, empty_days))
    return sorted(walk)


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def report_url(base_url: str, report_type: str, day: date) -> str:
    return f"{base_url}/v1/nightly_reports/{report_type}/{day.isoformat()}"


def open_report(http: Client, base_url: str, report_type: str, day: date) -> requests.Response:
    """The streamed response of one report; NoReport when Pindrop has none for that day (yet).

    Only the report URL's own 404 means "no report": a token endpoint's 404 (a wrong ``token_url``) is a
    TokenRequestError and fails the sync, or every day would look missing and be passed.
    """
    try:
        response = http.get(report_url(base_url, report_type, day), stream=True,
                            description=f"GET {report_type} report for {day.isoformat()}")
    except HttpError as error:
        if error.status == 404 and not isinstance(error, TokenRequestError):
            raise NoReport(404) from None
        raise
    if response.status_code in __PENDING_STATUSES:
        response.close()
        raise NoReport(response.status_code)
    refuse_non_csv(http, response, f"{report_type} report for {day.isoformat()}")
    return response


def refuse_non_csv(http: Client, response: requests.Response, what: str) -> None:
    """A JSON, HTML or XML answer (a "pending" notice, a login page) parses as a CSV header with no rows, which
    would pass the day as delivered empty: NotAReport instead (for a recent day, "not ready"; else an error)."""
    content_type = response.headers.get("Content-Type", "")
    if not any(word in content_type.lower() for word in __NOT_CSV_TYPES):
        return
    try:
        start = response.raw.read(__EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")
    finally:
        response.close()
    excerpt = http.redactor.redact(" ".join(start.split()))
    raise NotAReport(f"{what}: the answer is {content_type}, not a CSV report; it starts with {excerpt!r}",
                     answer=f"{content_type} ({excerpt[:60]!r})")


def report_records(response: requests.Response, report_type: str, day: date, key_column: str,
                   redact: Callable[[str], str] = str) -> Iterator[dict]:
    """Destination rows of one report as they stream in: added columns, trimmed values, a key that is never null.

    A body that starts like HTML, XML or JSON is NotAReport, whatever its Content-Type (a mislabelled sign-in
    page would be rows; a notice, a day delivered empty); ``redact`` scrubs the excerpt quoted."""
    report_date = day.isoformat()
    counter = OccurrenceCounter()
    names: dict[str, str] | None = None
    try:
        for raw in csv_rows(response, encoding=declared_charset(response)):
            if names is None:
                names = column_names(list(raw), key_column)
            values = {name: value.strip() or None for name, value in raw.items()}
            record = {"report_date": report_date, "report_type": report_type}
            record.update((names[name], value) for name, value in values.items())
            if record.get(key_column) is None:
                record[key_column] = derived_key(values, counter)
            yield record
    except NotCsv as error:
        raise NotAReport(redact(f"{report_type} report for {report_date}: {error}"),
                         answer=redact(error.looks_like)) from None
    except PayloadError as error:
        raise PayloadError(f"{report_type} report for {report_date}: {error}") from None
    finally:
        counter.close()


def column_names(header: list[str], key_column: str) -> dict[str, str]:
    """Column by header name; header names that Fivetran's renaming makes one column (``Status`` and ``status``,
    ``First Name`` and ``first_name``) are an error: the destination would keep one of the values."""
    names = {name: column_name(name, key_column) for name in header}
    renamed = {name: destination_name(column) for name, column in names.items()}
    filled = Counter(renamed.values())
    clashing = sorted(name for name in header if filled[renamed[name]] > 1)
    if clashing:
        raise PayloadError(f"CSV header names {clashing} would fill the same column")
    return names


def column_name(header_name: str, key_column: str) -> str:
    """The header name as given (trimmed), but: the key column in any spelling that Fivetran names like it
    (``ID``, ``Phone Number``), and a prefix where it would be named like an added or reserved column."""
    renamed = destination_name(header_name)
    if renamed == key_column:
        return key_column
    if renamed in __ADDED_COLUMNS or renamed.startswith("_fivetran"):
        return __RENAMED_PREFIX + header_name
    return header_name


def derived_key(values: dict, counter: "OccurrenceCounter") -> str:
    """The key of a row that has no value of its own: ``row-<digest>-<occurrence>``.

    ``digest``: the first 32 hex digits of SHA-256 over the row's CSV columns (header name -> trimmed value, empty
    as null), sorted by name, as JSON. ``occurrence``: 1 for the first row of this report with exactly that content,
    2 for the next, and so on. A re-download, in any row order, gives every row the same key; distinct rows never
    share one; identical rows stay distinct.
    """
    canonical = json.dumps(sorted(values.items()), ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:__DIGEST_HEX_CHARS]
    return f"row-{digest}-{counter.next(digest)}"


class NotAReport(PayloadError):
    """A 200 that is not CSV (JSON, HTML, XML): a "pending" notice for a recent day (whether Pindrop sends one is
    unconfirmed), an error for an older one. ``answer`` names it for the log."""

    def __init__(self, message: str, answer: str):
        super().__init__(message)
        self.answer = answer


class NoReport(Exception):
    """Pindrop has no report for this (type, day): HTTP 404, or a 202/204 (never seen; taken as "not yet")."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.answer = f"HTTP {status}"


class OccurrenceCounter:
    """How many times each digest has been seen in one report, in memory that does not grow with the report.

    Counts live in a private temporary SQLite file (created on first use; its page cache is bounded), so a
    million-row report without an id column costs disk, not RAM.
    """

    def __init__(self):
        self._db: sqlite3.Connection | None = None

    def next(self, digest: str) -> int:
        if self._db is None:
            self._db = sqlite3.connect("")  # "": a temporary on-disk database, deleted when closed
            self._db.execute("CREATE TABLE seen (digest TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        self._db.execute("INSERT INTO seen VALUES (?, 1) ON CONFLICT (digest) DO UPDATE SET n = n + 1", (digest,))
        return self._db.execute("SELECT n FROM seen WHERE digest = ?", (digest,)).fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def configuration_form():
    """The setup form: every configuration key, and a setup test that gets a token and opens one report."""
    form = ConfigurationForm()
    form.add_field(form_field.TextField(
        "client_id", "Client ID", required=True, placeholder="your OAuth2 client ID",
        description="OAuth2 client ID for the nightly reports API (ask your Pindrop account representative)."))
    form.add_field(form_field.TextField(
        "client_secret", "Client secret", form_field.TextField.password, required=True,
        description="OAuth2 client secret that goes with the client ID.", placeholder="client secret"))
    form.add_field(form_field.DropdownField(
        "report_types", "Reports to sync", description="Which nightly reports to sync. Default: all six.",
        placeholder="all six reports",
        fields=[form_field.DropdownFieldParam(",".join(__REPORT_KEYS), "All six reports")]
        + [form_field.DropdownFieldParam(kind, f"Only {kind}") for kind in __REPORT_KEYS]))
    form.add_field(form_field.TextField(
        "start_date", "Start date", placeholder="2025-01-01",
        description="First report day of the first sync (YYYY-MM-DD). Empty: 30 days before today (UTC)."))
    form.add_field(form_field.TextField(
        "lookback_days", "Lookback (days)", placeholder="1",
        description="Each sync asks again for this many days before the last day delivered. Default 1."))
    form.add_field(form_field.TextField(
        "missing_report_grace_days", "Grace for late reports (days)", placeholder="3",
        description="A report missing (HTTP 404) for a day at most this many days old is asked for again next "
                    "sync, and an empty one each sync until it has rows; an older missing report is logged and "
                    "skipped. Default 3."))
    form.add_field(form_field.TextField(
        "token_url", "Token URL", placeholder=__DEFAULT_TOKEN_URL,
        description=f"OAuth2 token endpoint of your Pindrop region. Empty: {__DEFAULT_TOKEN_URL}."))
    form.add_field(form_field.TextField(
        "base_url", "API base URL", placeholder=__DEFAULT_BASE_URL,
        description=f"Reports API host of your Pindrop region. Empty: {__DEFAULT_BASE_URL}."))
    form.add_field(form_field.TextField(
        "requests_per_second", "Requests per second", placeholder="no limit",
        description="Client-side limit on requests to Pindrop (e.g. 2, or 0.5 for one every 2 s). Empty or 0: no "
                    "limit."))
    form.add_test(label="Get an access token and open one report", func=test_connection)
    return form


def test_connection(configuration: dict):
    """Setup test: get a token, then open (not read) the first chosen report of a day past the grace window."""

    def get_token_and_open_a_report():
        settings = validate_configuration(configuration)
        http = new_client(settings)
        try:
            day = today_utc() - timedelta(days=settings.missing_report_grace_days + 1)
            try:
                open_report(http, settings.base_url, settings.report_types[0], day).close()  # a 200 is enough
            except NoReport:
                pass  # the token was accepted; that day simply has no report
        finally:
            http.close()

    failure = explain_failure(get_token_and_open_a_report, service="Pindrop", host_keys="'token_url' and 'base_url'",
                              secrets=(configuration.get("client_secret") or "",))
    return Test.failure(failure) if failure else Test.success()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    with open("configuration.json") as configuration_file:
        connector.debug(configuration=json.load(configuration_file))
