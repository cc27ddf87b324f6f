"""Courier connector: brands, audiences, audit events, lists, messages, notifications and tenants.

Source: Courier's REST API (https://api.courier.com), ``Authorization: Bearer <api_key>``; a bad key gets 403.
Paging: opaque cursors on every endpoint, with three envelopes: ``{paging: {cursor, more}, results}``,
``{items, paging}`` (audiences; lists answer with ``items`` or ``results``) and tenants'
``{items, has_more, cursor, next_url}``. A page without its envelope key fails the sync.
Incremental: only ``/messages`` has a server-side filter (``enqueued_after``, ms epoch). Messages come newest
first, so the walk keeps its page cursor in the state after every page (committed every few thousand rows, and
when a page fails) and the watermark (largest ``enqueued`` delivered) moves only when a walk completes; each sync
re-reads ``messages_lookback_days`` because statuses change after enqueue.
Every other table has no filter: it is scanned in full each sync and rows gone from the source are marked deleted
(truncate, re-scan, one checkpoint at the end, so a failed scan commits nothing and deletes nothing).
Shapes that vary (notification V1/V2 tags, audit ``target``, audience ``filter``, tenant properties) are JSON; the
contract's text fields are STRING, timestamps UTC_DATETIME (a value in neither documented form fails the sync).
"""

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, urlsplit

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: configuration, timestamps, flattening, transport with retries, paging, envelopes, state.
from shared import config, timestamps
from shared.auth import BearerToken
from shared.flatten import flatten_record, quoted
from shared.http_client import Client, HttpError, RetryPolicy
from shared.pagination import PAGE_FAILURES, PaginationError, by_cursor
from shared.parsing import PayloadError, require
from shared.progress import TableProgress
from shared.runner import default_log_level, truncate_table
from shared.setup_check import explain_failure
from shared.state import saved, table_entry

__DEFAULT_BASE_URL = "https://api.courier.com"
__DEFAULT_LOOKBACK_DAYS = 3
__LATEST_MS = 4_102_444_800_000  # 2100-01-01: a larger watermark is not milliseconds (microseconds, say)
__CLOCK_SKEW_MS = 60_000  # a saved bound up to this far past the clock is another machine's clock, not the future
__MAX_LOOKBACK_DAYS = 365
__TENANT_PAGE_LIMIT = 100  # the documented maximum
__TIMEOUT_S = (10.0, 60.0)  # connect, read
__CHECKPOINT_EVERY_ROWS = 5_000  # messages: a crash re-reads at most this many rows (500 pages of 10)
__WALK_MAX_AGE_S = 24 * 3600  # a saved page cursor older than this is not trusted (its lifetime is undocumented)
__DAY_MS = 86_400_000
__REFUSED_CURSOR_STATUSES = (400, 404, 410, 422)  # how Courier refuses an expired cursor is undocumented
__AUTH_HINT = ("Courier rejected the API key: check 'api_key', and that it belongs to the workspace environment "
               "(test or production) you mean to sync")
__SETUP_TEST_RETRY = RetryPolicy(max_attempts=2)  # a person is waiting: one retry, then the advice


@dataclass(frozen=True)
class Table:
    """How one endpoint maps to a destination table."""
    name: str
    path: str
    records_keys: tuple = ("results",)  # the envelope key holding the rows; lists accept either of two
    primary_key: str = "id"
    millis_columns: tuple = ()
    iso_columns: tuple = ()
    text_columns: tuple = ()  # the contract's text fields, typed STRING (else the destination types them by value)
    json_columns: frozenset = field(default_factory=frozenset)
    page_limit: int | None = None  # sent as ``limit`` (tenants only; the other endpoints take no page size)
    top_level_cursor: bool = False  # tenants: ``has_more``/``cursor`` at the top, not under ``paging``


__BRANDS = Table("brand", "/brands", millis_columns=("created", "updated", "published"),
                 text_columns=("id", "name", "version"))
__FULL_SCAN_TABLES = (
    __BRANDS,
    Table("audience", "/audiences", ("items",), iso_columns=("created_at", "updated_at"),
          json_columns=frozenset({"filter"}), text_columns=("id", "name", "description", "operator")),
    Table("audit_event", "/audit-events", primary_key="auditEventId", iso_columns=("timestamp",),
          json_columns=frozenset({"target"}),
          text_columns=("auditEventId", "actor_id", "actor_email", "source", "type")),
    Table("list", "/lists", ("items", "results"), iso_columns=("created", "updated"), text_columns=("id", "name")),
    Table("notification", "/notifications", json_columns=frozenset({"tags"}),
          millis_columns=("created_at", "updated_at", "created", "updated"),
          text_columns=("id", "title", "topic_id", "routing_method", "note",  # V1
                        "name", "state", "creator", "updater", "subscription_topic_id")),  # V2
    Table("tenant", "/tenants", ("items",), json_columns=frozenset({"properties", "user_profile"}),
          page_limit=__TENANT_PAGE_LIMIT, top_level_cursor=True,
          text_columns=("id", "name", "parent_tenant_id", "brand_id")),
)
__MESSAGES = Table("message", "/messages", millis_columns=("enqueued", "sent", "delivered", "opened", "clicked"),
                   text_columns=("id", "status", "recipient", "event", "notification", "error", "reason",
                                 "recipientId"))


@dataclass(frozen=True)
class Settings:
    api_key: str = field(repr=False)
    base_url: str
    start_date: date | None
    messages_lookback_days: int


@config.quoting_no_secret("api_key")
def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ValueError names the key and the expected form."""
    return Settings(
        api_key=config.text(configuration, "api_key", required=True, secret=True),
        base_url=config.url(configuration, "base_url", default=__DEFAULT_BASE_URL),
        start_date=config.day(configuration, "start_date", today=_today()),
        messages_lookback_days=config.integer(configuration, "messages_lookback_days",
                                              default=__DEFAULT_LOOKBACK_DAYS, minimum=0,
                                              maximum=__MAX_LOOKBACK_DAYS),
    )


def schema(configuration: dict):
    """Every table with its key; timestamps typed UTC_DATETIME, varying shapes JSON and documented text STRING
    (an untyped column is typed by its values: a brand named "True" would make ``name`` BOOLEAN)."""
    return [_table_schema(table) for table in __FULL_SCAN_TABLES + (__MESSAGES,)]


def _table_schema(table: Table) -> dict:
    columns = {column: "STRING" for column in table.text_columns}
    columns.update({column: "UTC_DATETIME" for column in table.millis_columns + table.iso_columns})
    columns.update({column: "JSON" for column in sorted(table.json_columns)})
    return {"table": table.name, "primary_key": [table.primary_key], "columns": columns}


def update(configuration: dict, state: dict):
    """One sync: every full-scan table, then the incremental message log."""
    default_log_level(log)
    settings = validate_configuration(configuration)
    http = new_client(settings)
    try:
        for table in __FULL_SCAN_TABLES:
            sync_full_scan(http, settings, state, table)
        sync_messages(http, settings, state)
    finally:
        http.close()


def new_client(settings: Settings, retry: RetryPolicy = RetryPolicy()) -> Client:
    auth = BearerToken(settings.api_key, {"Accept": "application/json"})
    return Client(auth=auth, timeout_s=__TIMEOUT_S, retry=retry, auth_failure_hint=__AUTH_HINT, log=log)


def sync_full_scan(http: Client, settings: Settings, state: dict, table: Table) -> None:
    """Scan every page; rows not seen again are marked deleted by the truncate that opens the scan.

    The only checkpoint comes after the last page: a scan that fails part-way commits neither the truncate nor
    its rows, so no live row is ever marked deleted.
    """
    progress = TableProgress(table.name, log)
    # Truncate: soft-delete the rows of earlier syncs; every row this scan upserts is live again.
    truncate_table(op, table.name, log)
    for page in _pages(http, settings, table):
        for record in page.records:
            # Upsert: insert the row or replace the one with the same primary key.
            op.upsert(table=table.name, data=to_row(record, table))
        progress.page_done(len(page.records))
    # Checkpoint: commit the truncate and the whole scan together (full-scan tables keep no state of their own).
    op.checkpoint(state)
    progress.finished()


def sync_messages(http: Client, settings: Settings, state: dict) -> None:
    """Walk ``/messages`` since the watermark minus the lookback, newest first, resuming a broken walk.

    ``state["message"]`` = ``{"watermark_ms": <largest enqueued of the last complete walk>, "walk": {...}}``;
    ``walk`` holds an unfinished walk's filter, the cursor of its next page, its largest ``enqueued`` so far and
    when that cursor was saved. It is brought up to date after every page, so any checkpoint resumes there.
    """
    entry = table_entry(state, "message")
    watermark_ms = entry.get("watermark_ms")
    if watermark_ms is not None:
        watermark_ms = saved(_epoch_ms, watermark_ms, "message watermark_ms", "epoch milliseconds")
    walk = entry["walk"] = _saved_walk(entry) or _new_walk(_trusted_watermark(watermark_ms, settings), settings)
    progress = TableProgress("message", log, every_rows=__CHECKPOINT_EVERY_ROWS)
    log.info(f"message: reading messages enqueued after {_when(walk['enqueued_after'])}"
             + (" from the saved page cursor" if walk["page_token"] else ""))
    try:
        for page in _message_pages(http, settings, walk):
            for record in page.records:
                # Upsert: a message re-read by the lookback replaces its earlier version (status changes).
                op.upsert(table=__MESSAGES.name, data=to_row(record, __MESSAGES))
            walk.update(page_token=page.next_token, saved_at_s=int(time.time()),
                        max_enqueued=_largest_enqueued(page.records, walk["max_enqueued"], _now_ms()))
            progress.page_done(len(page.records))
            if page.next_token and progress.checkpoint_due():
                # Checkpoint: the walk resumes from this page cursor; the watermark is unchanged until it completes.
                op.checkpoint(state)
                progress.checkpointed()
    except PAGE_FAILURES:
        # Checkpoint: keep the pages delivered; the next sync resumes at the page that failed, not past it.
        op.checkpoint(state)
        raise
    del entry["walk"]
    entry["watermark_ms"] = walk["max_enqueued"]
    # Checkpoint: the walk is complete, so the watermark can move.
    op.checkpoint(state)
    progress.finished(f"watermark {_when(entry['watermark_ms'])}")


def _new_walk(watermark_ms: int | None, settings: Settings) -> dict:
    return {"enqueued_after": _enqueued_after(watermark_ms, settings), "page_token": None,
            "max_enqueued": watermark_ms}


def _saved_walk(entry: dict) -> dict | None:
    """The unfinished walk to resume, if it has a page cursor recent enough to trust; else a new walk starts."""
    walk = entry.get("walk")
    if walk is None:
        return None
    walk = saved(_walk_shape, walk, "message walk", "an object with enqueued_after, page_token and max_enqueued")
    if not walk["page_token"]:
        return None
    if time.time() - walk.get("saved_at_s", 0) > __WALK_MAX_AGE_S:
        log.info("message: the saved page cursor is too old to trust; starting the walk again")
        return None
    if _is_future(walk["enqueued_after"]):
        # Resumed, it would read nothing and complete, moving the watermark to now past every message not read.
        log.warning(f"message: the saved message.walk.enqueued_after {walk['enqueued_after']} "
                    f"({_when(walk['enqueued_after'])}) is in the future; starting a new walk")
        return None
    return walk


def _walk_shape(walk: object) -> dict:
    """A saved walk as written: epoch milliseconds (or null), a page cursor (or null), the time it was saved."""
    if not isinstance(walk, dict) or not isinstance(walk.get("page_token"), (str, type(None))):
        raise ValueError("not a walk")
    bounds = {key: None if walk.get(key) is None else _epoch_ms(walk[key])
              for key in ("enqueued_after", "max_enqueued")}
    return {**walk, **bounds, "page_token": walk.get("page_token"), "saved_at_s": float(walk.get("saved_at_s", 0))}


def _trusted_watermark(watermark_ms: int | None, settings: Settings) -> int | None:
    """The watermark a new walk starts from, or None (a first sync's bound) if it is in the future.

    Code before 24e9dc4 saved a future ``enqueued`` as the watermark (a hand edit can too). Walking from it reads
    nothing and then resets the watermark to now, past every message in between; a future watermark cannot say
    where the data stopped, so only the configured start is sure to lose nothing."""
    if not _is_future(watermark_ms):
        return watermark_ms
    log.warning(f"message: the saved message.watermark_ms {watermark_ms} ({_when(watermark_ms)}) is in the "
                "future, so it cannot say where the messages stopped; reading from the configured start "
                f"({_when(_enqueued_after(None, settings))}) instead: messages since then are re-read once "
                "(upserts by id absorb the re-read)")
    return None


def _is_future(epoch_ms: int | None) -> bool:
    """Later than now by more than a clock skew (the watermark itself is capped at now, see _largest_enqueued)."""
    return epoch_ms is not None and epoch_ms > _now_ms() + __CLOCK_SKEW_MS


def _epoch_ms(value: object) -> int:
    """Milliseconds since 1970 up to 2100: seconds would read as 1970 (safe: all re-read), microseconds fail."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= __LATEST_MS:
        raise ValueError("not epoch milliseconds")
    return int(value)


def _enqueued_after(watermark_ms: int | None, settings: Settings) -> int | None:
    """Lower bound of a new walk: the watermark minus the lookback, else the start date, else everything.

    At least 1 ms before the watermark (a lookback of 0): whether ``enqueued_after`` is inclusive is unconfirmed,
    and a message sharing the watermark's millisecond that shows up late must still be read."""
    if watermark_ms is not None:
        return int(watermark_ms) - max(settings.messages_lookback_days * __DAY_MS, 1)
    if settings.start_date is not None:
        start = datetime(settings.start_date.year, settings.start_date.month, settings.start_date.day,
                         tzinfo=timezone.utc)
        return int(start.timestamp() * 1000)
    return None


def _largest_enqueued(records: list, largest: int | None, now_ms: int) -> int | None:
    """The watermark candidate; a record without ``enqueued`` (documented as required), or with a blank one, is
    delivered, not counted (``to_row`` has already refused any other value that is not milliseconds).

    Never later than now: one message stamped in the future (a sender's clock, a scheduled send) would otherwise
    set every later walk's bound past the messages enqueued until that date."""
    values = [int(float(enqueued)) for enqueued in (record.get("enqueued") for record in records)
              if enqueued is not None and str(enqueued).strip()]
    candidate = max([largest, *values]) if largest is not None else max(values, default=None)
    if candidate is not None and candidate > now_ms:
        log.warning(f"message: a message is enqueued at {_when(candidate)}, after now; the watermark stays at now")
        return now_ms
    return candidate


def _now_ms() -> int:
    return int(time.time() * 1000)


def _today() -> date:
    return datetime.fromtimestamp(time.time(), tz=timezone.utc).date()


def _message_pages(http: Client, settings: Settings, walk: dict):
    """Pages of the walk; a saved cursor the API no longer accepts restarts the walk from its lower bound, and so
    does one answered with an empty last page (how an expired cursor is answered is undocumented: an empty
    "end of list" would otherwise end the walk and move the watermark past the pages never read)."""
    params = {} if walk["enqueued_after"] is None else {"enqueued_after": str(walk["enqueued_after"])}
    if not walk["page_token"]:
        yield from _pages(http, settings, __MESSAGES, params)
        return
    restart_because = None
    try:
        first = next(_pages(http, settings, __MESSAGES, params, start_cursor=walk["page_token"]))
    except HttpError as error:
        if error.status not in __REFUSED_CURSOR_STATUSES:
            raise
        restart_because = f"was refused (HTTP {error.status})"
    else:
        if not first.records and not first.next_token:
            restart_because = "led to an empty end of the list"
    if restart_because:
        log.warning(f"message: the saved page cursor {restart_because}; restarting the walk")
        walk["page_token"] = None
        yield from _pages(http, settings, __MESSAGES, params)
        return
    yield first
    if first.next_token:
        yield from _pages(http, settings, __MESSAGES, params, start_cursor=first.next_token)


def _pages(http: Client, settings: Settings, table: Table, params: dict | None = None,
           start_cursor: str | None = None):
    """Every page of one endpoint, with its envelope's records key and stop rule (cursors URL-encoded)."""
    query = {**(params or {}), **({"limit": table.page_limit} if table.page_limit else {})}
    return by_cursor(http, settings.base_url + table.path, params=query, start_cursor=start_cursor,
                     records_of=lambda body: _records(body, table),
                     next_cursor_of=_next_tenant_cursor if table.top_level_cursor else _next_paging_cursor)


def to_row(record: dict, table: Table) -> dict:
    """Flatten nested objects to ``a_b`` columns and convert both timestamp forms to UTC (blank text is null)."""
    row = flatten_record(record, json_keys=table.json_columns)
    for columns, convert, form in ((table.millis_columns, _from_epoch_millis, "epoch milliseconds"),
                                   (table.iso_columns, _from_iso, "an ISO-8601 timestamp")):
        for column in columns:
            if row.get(column) is not None:
                try:
                    row[column] = convert(row[column])
                except (ValueError, OverflowError, OSError):
                    raise PayloadError(_bad_timestamp(row, column, table, form)) from None
    return row


def _from_epoch_millis(value: object) -> str | None:
    """A number, or numeric text; blank text is null, as in the ISO columns. A boolean is refused: Python would
    read ``true`` as 1 ms, 1970-01-01T00:00:00.001Z."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("not epoch milliseconds")
    return timestamps.from_epoch_millis(value)


def _from_iso(value: object) -> str | None:
    """ISO-8601 text; blank text is null. A number is refused: the contract gives these columns no epoch form."""
    if not isinstance(value, str):
        raise ValueError("not ISO-8601 text")
    return timestamps.to_utc_iso(value)


def _bad_timestamp(row: dict, column: str, table: Table, form: str) -> str:
    """Names the table, the column, the row's key and the value (cut short): the sync stops rather than store a
    wrong date, and a full scan that fails commits nothing."""
    key = row.get(table.primary_key)
    whose = (f"a row without {table.primary_key}" if key is None else
             f"the row with {table.primary_key} {quoted(key, 60)}")
    return f"{table.name}.{column} of {whose} holds {quoted(row[column], 60)}, not {form} as Courier documents it"


def _records(body, table: Table) -> list:
    """The page's rows under its envelope key; a missing key or a non-list (null included) means a changed API or a
    broken answer, not zero rows: read as zero, it would mark every row of a full-scan table deleted."""
    for key in table.records_keys:
        if isinstance(body, dict) and key in body:
            rows = body[key]
            if not isinstance(rows, list):
                what = "null" if rows is None else f"a {type(rows).__name__}"
                raise PayloadError(f"{table.path}: {key!r} is {what}, not a list")
            return rows
    found = sorted(body)[:10] if isinstance(body, dict) else type(body).__name__
    wanted = " or ".join(repr(key) for key in table.records_keys)
    raise PayloadError(f"{table.path} lacks {wanted} (found {found})")


def _next_paging_cursor(body: dict) -> str | None:
    """The documented stop rule: ``paging.more`` false, or no cursor (``more`` is then read as wrong: asking
    without a cursor would re-read the first page forever)."""
    paging = require(body, "paging")
    if not require(paging, "more", where="paging"):
        return None
    if not paging.get("cursor"):
        return _stop_without_cursor("paging.more=true")
    return paging["cursor"]


def _next_tenant_cursor(body: dict) -> str | None:
    """``has_more`` decides; the cursor is top-level, else the one inside ``next_url`` (never appended to a URL)."""
    if not require(body, "has_more", where="/tenants"):
        return None
    cursor = body.get("cursor") or _query_value(body.get("next_url"), "cursor")
    if not cursor:
        # Unlike paging.cursor, the tenants cursor has no documented null meaning "the end": ending here would mark
        # the tenants of the unread pages deleted, so the scan fails before its truncate is committed.
        raise PaginationError("/tenants answered has_more=true without a cursor or next_url; the pages after it "
                              "cannot be asked for, and ending the scan here would mark their tenants deleted")
    return cursor


def _stop_without_cursor(claim: str) -> None:
    log.warning(f"Courier answered {claim} without a cursor: stopping after this page, as its paging rules say "
                "(a null cursor ends the list)")
    return None


def _query_value(url: str | None, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name) if isinstance(url, str) else None
    return values[0] if values else None


def _when(epoch_ms: int | None) -> str:
    return "the beginning of retention" if epoch_ms is None else timestamps.from_epoch_millis(epoch_ms)


def configuration_form():
    """The setup form: every configuration key, and a setup test that reads one page of brands."""
    form = ConfigurationForm()
    form.add_field(form_field.TextField(
        "api_key", "API key", form_field.TextField.password, required=True,
        description="A Courier API key (Settings > API Keys). Keys belong to one environment: test or production.",
        placeholder="pk_prod_..."))
    form.add_field(form_field.TextField(
        "base_url", "API base URL", description="Leave empty for https://api.courier.com.",
        placeholder=__DEFAULT_BASE_URL))
    form.add_field(form_field.TextField(
        "start_date", "Messages start date",
        description="First sync of messages starts here (YYYY-MM-DD). Empty: all messages Courier retains.",
        placeholder="2025-01-01"))
    form.add_field(form_field.TextField(
        "messages_lookback_days", "Messages lookback (days)",
        description="Each sync re-reads this many days of messages (0-365) to pick up status changes. Default 3.",
        placeholder="3"))
    form.add_test(label="Read one page of brands with the API key", func=test_connection)
    return form


def test_connection(configuration: dict):
    """Setup test: read one page of brands, the cheapest authenticated call; every failure becomes advice."""

    def read_one_page():
        settings = validate_configuration(configuration)
        http = new_client(settings, __SETUP_TEST_RETRY)
        try:
            next(_pages(http, settings, __BRANDS))
        finally:
            http.close()

    failure = explain_failure(read_one_page, service="Courier", host_keys="'base_url'",
                              secrets=(configuration.get("api_key") or "",))
    return Test.failure(failure) if failure else Test.success()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    import json

    with open("configuration.json") as configuration_file:
        connector.debug(configuration=json.load(configuration_file))
