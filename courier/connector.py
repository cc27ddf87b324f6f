"""Courier connector: brands, audiences, audit events, lists, messages, notifications and tenants.

Source: Courier's REST API (https://api.courier.com), ``Authorization: Bearer <api_key>``; a bad key gets 403.
Paging: opaque cursors on every endpoint, with three envelopes: ``{paging: {cursor, more}, results}``,
``{items, paging}`` (audiences; lists answer with ``items`` or ``results``) and tenants'
``{items, has_more, cursor, next_url}``. A page without its envelope key fails the sync.
Incremental: only ``/messages`` has a server-side filter (``enqueued_after``, ms epoch). Messages come newest
first, so the walk saves its page cursor as it goes and the watermark (largest ``enqueued`` delivered) moves only
when a walk completes; each sync re-reads ``messages_lookback_days`` because statuses change after enqueue.
Every other table has no filter: it is scanned in full each sync and rows gone from the source are marked deleted
(truncate, re-scan, one checkpoint at the end, so a failed scan commits nothing and deletes nothing).
Shapes that vary (notification V1/V2 tags, audit ``target``, audience ``filter``, tenant properties) are JSON.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: typed configuration, timestamps, flattening, transport with retries, paging, envelopes.
from shared import config, timestamps
from shared.auth import BearerToken
from shared.flatten import flatten_record
from shared.http_client import Client, HttpError
from shared.pagination import by_cursor
from shared.parsing import PayloadError, require
from shared.progress import TableProgress
from shared.setup_check import explain_failure

__DEFAULT_BASE_URL = "https://api.courier.com"
__DEFAULT_LOOKBACK_DAYS = 3
__MAX_LOOKBACK_DAYS = 365
__TENANT_PAGE_LIMIT = 100  # the documented maximum
__TIMEOUT_S = (10.0, 60.0)  # connect, read
__CHECKPOINT_EVERY_ROWS = 5_000  # messages: a crash re-reads at most this many rows (500 pages of 10)
__DAY_MS = 86_400_000
__AUTH_HINT = ("Courier rejected the API key: check 'api_key', and that it belongs to the workspace environment "
               "(test or production) you mean to sync")


@dataclass(frozen=True)
class Table:
    """How one full-scan endpoint maps to a destination table."""
    name: str
    path: str
    records_key: str  # "results", "items", or "items|results" for lists
    primary_key: str = "id"
    millis_columns: tuple = ()
    iso_columns: tuple = ()
    json_columns: tuple = ()


__FULL_SCAN_TABLES = (
    Table("brand", "/brands", "results", millis_columns=("created", "updated", "published")),
    Table("audience", "/audiences", "items", iso_columns=("created_at", "updated_at"), json_columns=("filter",)),
    Table("audit_event", "/audit-events", "results", primary_key="auditEventId", iso_columns=("timestamp",),
          json_columns=("target",)),
    Table("list", "/lists", "items|results", iso_columns=("created", "updated")),
    Table("notification", "/notifications", "results", json_columns=("tags",),
          millis_columns=("created_at", "updated_at", "created", "updated")),
    Table("tenant", "/tenants", "items", json_columns=("properties", "user_profile")),
)
__MESSAGE_MILLIS_COLUMNS = ("enqueued", "sent", "delivered", "opened", "clicked")


@dataclass(frozen=True)
class Settings:
    api_key: str = field(repr=False)
    base_url: str
    start_date: date | None
    messages_lookback_days: int


def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ValueError names the key and the expected form."""
    return Settings(
        api_key=config.text(configuration, "api_key", required=True, secret=True),
        base_url=config.url(configuration, "base_url", default=__DEFAULT_BASE_URL),
        start_date=config.day(configuration, "start_date"),
        messages_lookback_days=config.integer(configuration, "messages_lookback_days",
                                              default=__DEFAULT_LOOKBACK_DAYS, minimum=0,
                                              maximum=__MAX_LOOKBACK_DAYS),
    )


def schema(configuration: dict):
    """Every table with its key; timestamps typed UTC_DATETIME and varying shapes typed JSON."""
    tables = [_table_schema(t.name, t.primary_key, t.millis_columns + t.iso_columns, t.json_columns)
              for t in __FULL_SCAN_TABLES]
    tables.append(_table_schema("message", "id", __MESSAGE_MILLIS_COLUMNS, ()))
    return tables


def _table_schema(name: str, primary_key: str, time_columns: tuple, json_columns: tuple) -> dict:
    columns = {column: "UTC_DATETIME" for column in time_columns}
    columns.update({column: "JSON" for column in json_columns})
    return {"table": name, "primary_key": [primary_key], "columns": columns}


def update(configuration: dict, state: dict):
    """One sync: every full-scan table, then the incremental message log."""
    settings = validate_configuration(configuration)
    http = new_client(settings)
    try:
        for table in __FULL_SCAN_TABLES:
            sync_full_scan(http, settings, state, table)
        sync_messages(http, settings, state)
    finally:
        http.close()


def new_client(settings: Settings) -> Client:
    auth = BearerToken(settings.api_key, {"Accept": "application/json"})
    return Client(auth=auth, timeout_s=__TIMEOUT_S, auth_failure_hint=__AUTH_HINT, log=log)


def sync_full_scan(http: Client, settings: Settings, state: dict, table: Table) -> None:
    """Scan every page; rows not seen again are marked deleted by the truncate that opens the scan.

    The only checkpoint comes after the last page: a scan that fails part-way commits neither the truncate nor
    its rows, so no live row is ever marked deleted.
    """
    progress = TableProgress(table.name, log)
    # Truncate: soft-delete the rows of earlier syncs; every row this scan upserts is live again.
    op.truncate(table.name)
    params = {"limit": __TENANT_PAGE_LIMIT} if table.name == "tenant" else None
    next_cursor = _next_tenant_cursor if table.name == "tenant" else _next_paging_cursor
    for page in by_cursor(http, settings.base_url + table.path, params=params,
                          records_of=lambda body: _records(body, table.records_key, table.path),
                          next_cursor_of=next_cursor):
        for record in page.records:
            # Upsert: insert the row or replace the one with the same primary key.
            op.upsert(table.name, to_row(record, table))
        progress.page_done(len(page.records))
    # Checkpoint: commit the truncate and the whole scan together (full-scan tables keep no state of their own).
    op.checkpoint(state)
    progress.finished()


def sync_messages(http: Client, settings: Settings, state: dict) -> None:
    """Walk ``/messages`` since the watermark minus the lookback, newest first, resuming a broken walk.

    ``state["message"]`` = ``{"watermark_ms": <largest enqueued of the last complete walk>, "walk": {...}}``;
    ``walk`` holds an unfinished walk's filter, next page cursor and largest ``enqueued`` so far.
    """
    entry = state.setdefault("message", {})
    walk = entry.get("walk") or {"enqueued_after": _enqueued_after(entry.get("watermark_ms"), settings),
                                 "page_token": None, "max_enqueued": entry.get("watermark_ms")}
    progress = TableProgress("message", log, every_rows=__CHECKPOINT_EVERY_ROWS)
    for page in _message_pages(http, settings, walk):
        for record in page.records:
            # Upsert: a message re-read by the lookback replaces its earlier version (status changes).
            op.upsert("message", to_row(record, None))
            walk["max_enqueued"] = max(walk["max_enqueued"] or 0, int(record["enqueued"]))
        walk["page_token"] = page.next_token
        progress.page_done(len(page.records))
        if page.next_token and progress.checkpoint_due():
            entry["walk"] = dict(walk)
            # Checkpoint: the walk resumes from this page cursor; the watermark is unchanged until it completes.
            op.checkpoint(state)
            progress.checkpointed()
    entry.pop("walk", None)
    entry["watermark_ms"] = walk["max_enqueued"]
    # Checkpoint: the walk is complete, so the watermark can move.
    op.checkpoint(state)
    progress.finished(f"watermark {entry['watermark_ms']}")


def _enqueued_after(watermark_ms: int | None, settings: Settings) -> int | None:
    """Lower bound of a new walk: the watermark minus the lookback, else the start date, else everything."""
    if watermark_ms is not None:
        return int(watermark_ms) - settings.messages_lookback_days * __DAY_MS
    if settings.start_date is not None:
        start = datetime(settings.start_date.year, settings.start_date.month, settings.start_date.day,
                         tzinfo=timezone.utc)
        return int(start.timestamp() * 1000)
    return None


def _message_pages(http: Client, settings: Settings, walk: dict):
    """Pages of the walk; a saved cursor the API no longer accepts restarts the walk from its lower bound."""
    params = {} if walk["enqueued_after"] is None else {"enqueued_after": str(walk["enqueued_after"])}

    def pages(start_cursor):
        return by_cursor(http, settings.base_url + "/messages", params=params, start_cursor=start_cursor,
                         records_of=lambda body: _records(body, "results", "/messages"),
                         next_cursor_of=_next_paging_cursor)

    if not walk["page_token"]:
        yield from pages(None)
        return
    try:
        first = next(pages(walk["page_token"]))
    except HttpError as error:
        if error.status not in (400, 404):
            raise
        log.warning(f"message: the saved page cursor was refused (HTTP {error.status}); restarting the walk")
        yield from pages(None)
        return
    yield first
    if first.next_token:
        yield from pages(first.next_token)


def to_row(record: dict, table: Table | None) -> dict:
    """Flatten nested objects to ``a_b`` columns and convert timestamps to UTC; ``table=None`` is a message."""
    json_columns = table.json_columns if table else ()
    row = flatten_record(record, json_keys=set(json_columns))
    for column in table.millis_columns if table else __MESSAGE_MILLIS_COLUMNS:
        if row.get(column) is not None:
            row[column] = timestamps.from_epoch_millis(row[column])
    for column in table.iso_columns if table else ():
        row[column] = timestamps.to_utc_iso(row.get(column))
    return row


def _records(body: dict, key: str, path: str) -> list:
    """The page's rows under its envelope key (``a|b``: whichever is present); missing means a changed API."""
    for option in key.split("|"):
        if isinstance(body, dict) and option in body:
            return require(body, option, where=path) or []
    return require(body, key.split("|")[0], where=path)


def _next_paging_cursor(body: dict) -> str | None:
    """``paging.more`` decides; ``more`` without a cursor would re-read the first page forever."""
    paging = require(body, "paging")
    if not require(paging, "more", where="paging"):
        return None
    if not paging.get("cursor"):
        raise PayloadError("Courier answered paging.more=true without a cursor")
    return paging["cursor"]


def _next_tenant_cursor(body: dict) -> str | None:
    if not require(body, "has_more", where="/tenants"):
        return None
    if not body.get("cursor"):
        raise PayloadError("Courier answered has_more=true on /tenants without a cursor")
    return body["cursor"]


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
        description="Each sync re-reads this many days of messages to pick up status changes. Default 3.",
        placeholder="3"))
    form.add_test(label="Read one page of brands with the API key", func=test_connection)
    return form


def test_connection(configuration: dict):
    """Setup test: read one page of brands, the cheapest authenticated call; every failure becomes advice."""

    def read_one_page():
        settings = validate_configuration(configuration)
        http = new_client(settings)
        try:
            next(by_cursor(http, settings.base_url + "/brands", next_cursor_of=_next_paging_cursor,
                           records_of=lambda body: _records(body, "results", "/brands")))
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
