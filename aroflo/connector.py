"""AroFlo connector: users, suppliers and payments from AroFlo's HMAC-signed zone API.

Source: ``https://api.aroflo.com/?zone=users|suppliers|payments`` (contract: shared/sources/aroflo.md). Not the
"Bearer token + /v1/users" API of the public example: that API does not exist (see README.md).
Tables: users [id], suppliers [id], payments [id]; ``id`` is AroFlo's userid / supplierid / paymentid. Every
source field is kept (nested objects flattened to ``parent_child``), plus the seed's normalized names
(first_name, last_name, name, payment_date, ...); datetimes are UTC, money DECIMAL(18,4), "false"/"TRUE"
booleans, the contract's text fields STRING (the destination would type them by their values: "T" a boolean).
Auth: four credentials and an HMAC-SHA512 signature with a fresh ``afdatetimeutc`` on every attempt
(aroflo_api.AroFloHmacAuth). The connector is read-only: the auth refuses to sign anything but GET.
Paging: ``page``/``pageSize`` (500, the maximum); the last page has fewer rows than ``maxpageresults``.
Incremental: every query sends an explicit ``where`` (without one AroFlo silently returns the last 30 days) and
``order=<cursor field>|asc``, so a checkpoint after each full page can store the largest cursor delivered; an
interrupted walk resumes at that cursor, a new walk starts a lookback before it. users: two walks,
``lastupdateddatetimeutc`` (updated users) and ``createddatetimeutc`` (new users, whose last-updated value is
blank). suppliers: ``datetimeinserted`` for new suppliers, the LastUpdate zone (AroFlo's change feed) for edited
ones, and a full re-scan every ``supplier_full_resync_days``;
payments: ``datepaid`` windows, re-reading ``__PAYMENTS_LOOKBACK_DAYS`` days each sync, plus a full re-scan every
``payment_full_resync_days`` (neither has a last-modified field).
Quirks: a body ``status`` other than "0" is an error even on HTTP 200 (and decides on a 4xx/5xx too, since
which HTTP status comes with it is unconfirmed); -99999 is bad credentials or a clock
outside AroFlo's window; 6/429 back off; 8/888888 halve ``pageSize``; 7 (2,000 requests a day) checkpoints and
ends the sync cleanly with a warning, and the next sync resumes from the checkpoint.
"""

import ipaddress
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: configuration, transport with retries and rate limit, progress, setup advice, state.
from shared import config, timestamps
from shared.flatten import ValueTyper
from shared.http_client import Client, HttpError, RateLimiter, RetryPolicy, TransportError
from shared.parsing import PayloadError
from shared.progress import TableProgress
from shared.redaction import Redactor
from shared.runner import default_log_level
from shared.setup_check import explain_failure
from shared.state import day, moment, not_in_future, saved, table_entry

if str(Path(__file__).resolve().parent) not in sys.path:  # the sibling module, however this file is loaded
    sys.path.append(str(Path(__file__).resolve().parent))
# AroFlo's signing, query strings, body statuses, paging and row typing.
import aroflo_api  # noqa: E402
from aroflo_api import RowSpec, ZoneApi, literal  # noqa: E402

__DEFAULT_BASE_URL = "https://api.aroflo.com"
__MAX_PAGE_SIZE = 500  # AroFlo's maximum (maxpageresults)
# (window seconds, requests): AroFlo allows 3 a second and 120 a minute, counted when requests arrive; we count
# when they leave, and a request on a new connection (TCP + TLS) arrives later than one on a reused connection.
# The margins keep the two counts apart; the sustained rate is the same (120 a minute is 2 a second).
__RATE_LIMITS = [(1.5, 3), (62.0, 120)]
__CONNECT_TIMEOUT_S = 10.0
__EARLIEST = datetime(2001, 1, 1, tzinfo=timezone.utc)  # the lower bound of the vendor's own full-load example
__USERS_LOOKBACK = timedelta(hours=1)
__SUPPLIERS_LOOKBACK = timedelta(hours=1)
__CHANGES_LOOKBACK = timedelta(hours=1)  # the LastUpdate feed re-reads this much before its cursor
__CHANGED_IDS_PER_REQUEST = 100  # supplier ids per ``supplierid IN a*b*...`` request (about 2 KB of URL)
__PAYMENTS_LOOKBACK_DAYS = 7  # payments entered late with an earlier datepaid are found if at most this late
__SAVED_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d")  # AroFlo's own forms, read back from a hand-edited state
__RESUME_MARGIN = timedelta(seconds=1)  # an interrupted walk resumes at its cursor's second: ties are re-read
__MONEY = {"type": "DECIMAL", "precision": aroflo_api.MONEY_PRECISION, "scale": aroflo_api.MONEY_SCALE}
__SECRET_KEYS = ("uencoded", "pencoded", "orgencoded", "secret_key")
__TABLES = ("users", "suppliers", "payments")

__SPECS = {
    "users": RowSpec(
        key="userid", times=("createddatetimeutc", "lastupdateddatetimeutc"), dates=("createdutc", "lastupdatedutc"),
        booleans=("archived",),
        texts=("username", "givennames", "surname", "email", "email2", "phone", "mobile", "fax", "accesstype",
               "position", "org_orgid", "org_orgname"),
        aliases=(("first_name", "givennames"), ("last_name", "surname"), ("role", "position"),
                 ("access_level", "accesstype"), ("created_at", "createddatetimeutc"),
                 ("updated_at", "lastupdateddatetimeutc"))),
    "suppliers": RowSpec(
        key="supplierid", times=("datetimeinserted",), dates=("datecreated", "dateinserted"),
        booleans=("postable", "archived"), json=("orgs",),
        texts=("suppliername", "firstname", "surname", "abn", "shortname", "phone", "mobile", "fax", "email",
               "website", "suppliertype", "terms", "termsnote", "address_addressline1", "address_addressline2",
               "address_suburb", "address_state", "address_postcode", "address_country", "link_orgid",
               "link_orgname", "link_externalid"),
        aliases=(("name", "suppliername"), ("address", "address_addressline1"), ("city", "address_suburb"),
                 ("state", "address_state"), ("country", "address_country"), ("payment_terms", "terms"),
                 ("tax_id", "abn"), ("created_at", "datetimeinserted"))),
    "payments": RowSpec(
        key="paymentid", times=("datelinkprocessed",), dates=("datepaid",), booleans=("linkprocessed",),
        money=("amount", "totalamount", "surchargeamount", "surchargepercentage"),
        texts=("paymentmethodname", "reference", "notes", "chequenumber", "bankname", "bankaccountnumber",
               "bankbranch", "bankcode", "linkedto_linkedtoid", "linkedto_linkedtotype", "receivedby_userid",
               "receivedby_username"),
        aliases=(("payment_date", "datepaid"), ("payment_method", "paymentmethodname"),
                 ("reference_number", "reference"))),
}


@dataclass(frozen=True)
class Settings:
    uencoded: str = field(repr=False)
    pencoded: str = field(repr=False)
    orgencoded: str = field(repr=False)
    secret_key: str = field(repr=False)
    host_ip: str | None
    base_url: str
    tables: tuple[str, ...]
    initial_sync_days: int
    page_size: int
    timeout_s: int
    retry_attempts: int
    incremental: bool
    debug_logging: bool
    supplier_full_resync_days: int
    payment_full_resync_days: int


@config.quoting_no_secret(*__SECRET_KEYS)
def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ConfigError names the key and the expected form."""
    secrets = {key: config.text(configuration, key, required=True, secret=True) for key in __SECRET_KEYS}
    toggles = {table: f"enable_{table}_sync" for table in __TABLES}
    tables = tuple(table for table, key in toggles.items() if config.boolean(configuration, key, default=True))
    if not tables:
        raise config.ConfigError(f"every table is disabled: set at least one of {', '.join(toggles.values())} to "
                                 "true")
    return Settings(
        **secrets, host_ip=_host_ip(configuration), tables=tables,
        base_url=config.url(configuration, "base_url", default=__DEFAULT_BASE_URL),
        initial_sync_days=config.integer(configuration, "initial_sync_days", default=90, minimum=0, maximum=36500),
        page_size=config.integer(configuration, "max_records_per_page", default=__MAX_PAGE_SIZE, minimum=1,
                                 maximum=__MAX_PAGE_SIZE),
        timeout_s=config.integer(configuration, "request_timeout_seconds", default=30, minimum=1, maximum=600),
        retry_attempts=config.integer(configuration, "retry_attempts", default=3, minimum=0, maximum=10),
        incremental=config.boolean(configuration, "enable_incremental_sync", default=True),
        debug_logging=config.boolean(configuration, "enable_debug_logging", default=False),
        supplier_full_resync_days=config.integer(configuration, "supplier_full_resync_days", default=7, minimum=0,
                                                 maximum=365),
        payment_full_resync_days=config.integer(configuration, "payment_full_resync_days", default=7, minimum=0,
                                                maximum=365))


def _host_ip(configuration: dict) -> str | None:
    value = config.text(configuration, "host_ip")
    try:
        return None if value is None else str(ipaddress.ip_address(value))
    except ValueError:
        raise config.ConfigError(f"configuration key 'host_ip': expected the public IP address this connector "
                                 f"calls from, such as 203.0.113.10, got {value!r}") from None


def schema(configuration: dict):
    """Every table keyed by ``id``; timestamps, dates, booleans, money, JSON and the documented text columns
    typed (see RowSpec.column_types)."""
    return [{"table": table, "primary_key": ["id"], "columns": __SPECS[table].column_types(__MONEY)}
            for table in __TABLES]


def update(configuration: dict, state: dict):
    """One sync of the enabled tables in a fixed order; the daily request limit ends it cleanly."""
    default_log_level(log)
    settings = validate_configuration(configuration)
    api = open_api(settings)
    started_at = datetime.now(timezone.utc)
    try:
        syncs = {"users": sync_users, "suppliers": sync_suppliers, "payments": sync_payments}
        for table in settings.tables:  # in the order of __TABLES
            syncs[table](api, settings, state, started_at)
        if api.daily_remaining is not None:
            log.info(f"AroFlo: {api.requests_made} requests made, {api.daily_remaining} left in today's budget")
    except aroflo_api.DailyLimitReached as limit:
        # Checkpoint: every cursor in state covers only pages whose rows were all upserted.
        op.checkpoint(state)
        log.warning(f"AroFlo daily request limit reached after {api.requests_made} requests: stopping this sync")
        op.warning(f"{limit}. The sync stopped after {api.requests_made} requests; what it read is saved and "
                   "the next sync resumes from there.")
    finally:
        api.client.close()


def open_api(settings: Settings, attempts: int | None = None) -> ZoneApi:
    """One Session, signing every attempt, 3 requests/s and 120/min, secrets registered for redaction; a body
    status on an HTTP error goes to ZoneApi's body-status rules (which HTTP status comes with one is unconfirmed)."""
    attempts = attempts or settings.retry_attempts + 1
    advice = aroflo_api.auth_advice(settings.host_ip)
    auth = aroflo_api.AroFloHmacAuth(settings.uencoded, settings.pencoded, settings.orgencoded,
                                     settings.secret_key, host_ip=settings.host_ip)
    client = Client(auth=auth, timeout_s=(min(__CONNECT_TIMEOUT_S, settings.timeout_s), settings.timeout_s),
                    retry=RetryPolicy(max_attempts=attempts), limiter=new_rate_limiter(),
                    auth_failure_hint=advice, on_response=aroflo_api.status_on_http_error, log=log)
    return ZoneApi(client, settings.base_url, attempts=attempts, log=log, debug=settings.debug_logging,
                   typer=ValueTyper(lambda message: log.warning(client.redactor.redact(message))), auth_advice=advice)


def new_rate_limiter() -> RateLimiter:
    return RateLimiter(__RATE_LIMITS)


def sync_users(api: ZoneApi, settings: Settings, state: dict, started_at: datetime) -> None:
    """Two ascending walks: users updated since ``updated_cursor``, then users created since ``created_cursor``.

    A user never updated has a blank ``lastupdateddatetimeutc`` and only the second walk finds it. Two walks
    rather than one ``or`` clause: each is sorted by its own field, so each can checkpoint after a page. The
    second walk does not upsert again the users the first one delivered.
    """
    entry = table_entry(state, "users")
    progress = TableProgress("users", log=log, every_rows=settings.page_size)
    ceiling = timestamps.utc_iso(started_at)
    updated_after = _start(entry, "updated_cursor", settings, lookback=__USERS_LOOKBACK, first=__EARLIEST,
                           table="users")
    sync_walk(api, settings, state, "users", progress, entry, "updated_cursor", "lastupdateddatetimeutc",
              literal(updated_after), ceiling)
    # The first walk delivered every user updated after ``updated_after``: the second one skips those (a day's
    # margin for how AroFlo compares times), so a first sync does not upsert every user twice.
    delivered = timestamps.utc_iso(updated_after + timedelta(days=1))
    since = _since(entry, "created_cursor", settings, lookback=__USERS_LOOKBACK, first=__EARLIEST, table="users")
    sync_walk(api, settings, state, "users", progress, entry, "created_cursor", "createddatetimeutc", since, ceiling,
              already_delivered=lambda row: (row.get("lastupdateddatetimeutc") or "") > delivered)
    _table_done(state, progress)


def sync_suppliers(api: ZoneApi, settings: Settings, state: dict, started_at: datetime) -> None:
    """New suppliers by ``datetimeinserted``; edited ones through the LastUpdate zone; all of them again every
    ``supplier_full_resync_days``."""
    rescanned = sync_with_full_scans(api, settings, state, "suppliers", "datetimeinserted", started_at,
                                     resync_days=settings.supplier_full_resync_days, first=__EARLIEST,
                                     lookback=__SUPPLIERS_LOOKBACK, ceiling=timestamps.utc_iso(started_at))
    sync_supplier_changes(api, settings, state, started_at, rescanned)


def sync_supplier_changes(api: ZoneApi, settings: Settings, state: dict, started_at: datetime,
                          rescanned: bool) -> None:
    """Suppliers listed in the LastUpdate zone (free of the daily limit) since ``changes_cursor``, read again by id.

    ``state["suppliers"]["changes_cursor"]``: the largest ``lastupdateutc`` whose suppliers are delivered. A full
    re-scan reads every supplier, so it only moves the cursor to the scan's start. The zone is documented, but not
    every filter on it: if AroFlo answers this feed with an error status or an unreadable body, or the feed's
    requests fail after their retries, the feed is skipped with a warning, its cursor stays, and edits arrive with
    the next full re-scan as they would without it (the walks before it have succeeded: the feed only hastens).
    """
    entry = state["suppliers"]
    if rescanned:
        entry["changes_cursor"] = entry["full_scan_completed_at"]
        # Checkpoint: every supplier was read after the scan's start, so the feed goes on from there.
        op.checkpoint(state)
        return
    entry.setdefault("changes_cursor", entry.get("full_scan_completed_at"))  # a state from before the feed
    since = _since(entry, "changes_cursor", settings, lookback=__CHANGES_LOOKBACK, first=__EARLIEST,
                   table="suppliers")
    log.info(f"suppliers: reading the LastUpdate zone for suppliers changed after {since}")
    try:
        for page in api.pages("lastupdate", ["and|zonename|=|suppliers", f"and|lastupdateutc|>|{since}"],
                              ["lastupdateutc|asc"], __MAX_PAGE_SIZE):
            changes = [row for row in page.rows if str(row.get("zonename", "")).strip().lower() == "suppliers"]
            deliver_suppliers(api, settings, {str(row["zoneid"]) for row in changes if row.get("zoneid")})
            # every row of the page counts: were the zonename filter ignored, other zones' rows are passed too
            latest = max(filter(None, _change_times(page.rows)), default=None)
            _advance(entry, "changes_cursor", latest, timestamps.utc_iso(started_at))
            # Checkpoint: every supplier listed up to the cursor is delivered.
            op.checkpoint(state)
    except (aroflo_api.AuthenticationFailed, aroflo_api.DailyLimitReached):
        raise
    except (aroflo_api.AroFloError, PayloadError, HttpError, TransportError) as refused:
        log.warning(f"suppliers: the LastUpdate change feed is skipped this sync ({refused}); edited suppliers "
                    f"arrive with the next full re-scan (every {settings.supplier_full_resync_days} days)")


def _change_times(rows: list[dict]) -> list[str | None]:
    """Each row's ``lastupdateutc`` in UTC; one that does not parse (the types are loose) is None, with a warning:
    its supplier is still re-read, and the cursor moves by the others."""
    times, unreadable = [], []
    for row in rows:
        try:
            times.append(aroflo_api.utc_text(row.get("lastupdateutc")))
        except ValueError:
            times.append(None)
            unreadable.append(row.get("lastupdateutc"))
    if unreadable:
        log.warning(f"suppliers: {len(unreadable)} LastUpdate rows have a lastupdateutc that is not a date-time "
                    f"(such as {str(unreadable[0])[:40]!r}); their suppliers are read again all the same")
    return times


def deliver_suppliers(api: ZoneApi, settings: Settings, supplier_ids: set[str]) -> None:
    """Upsert the current row of each supplier, ``__CHANGED_IDS_PER_REQUEST`` ids a request (``IN`` with ``*``),
    fewer than a page, so that each request is its own last page."""
    ids, per_request = sorted(supplier_ids), min(__CHANGED_IDS_PER_REQUEST, max(1, settings.page_size - 1))
    for start in range(0, len(ids), per_request):
        batch = "*".join(ids[start:start + per_request])
        for page in api.pages("suppliers", [f"and|supplierid|IN|{batch}"], ["supplierid|asc"], settings.page_size):
            for record in page.rows:
                # Upsert: the supplier's current row replaces the one delivered before.
                op.upsert(table="suppliers", data=aroflo_api.to_row(record, __SPECS["suppliers"], "suppliers",
                                                                    api.typer))


def sync_payments(api: ZoneApi, settings: Settings, state: dict, started_at: datetime) -> None:
    """Payments paid since the cursor day minus ``__PAYMENTS_LOOKBACK_DAYS``; all of them again every
    ``payment_full_resync_days``, from the first sync's first day (``initial_sync_days``, 0: all history)."""
    entry = table_entry(state, "payments")
    if "first_day" not in entry:
        entry["first_day"] = _first_payment_day(entry, settings, started_at).isoformat()
    first_day = _saved_time(entry["first_day"], "payments first_day", whole_days=True)
    sync_with_full_scans(api, settings, state, "payments", "datepaid", started_at,
                         resync_days=settings.payment_full_resync_days, first=first_day,
                         lookback=timedelta(days=__PAYMENTS_LOOKBACK_DAYS),
                         ceiling=(started_at.date() + timedelta(days=1)).isoformat())


def _first_payment_day(entry: dict, settings: Settings, started_at: datetime) -> date:
    """``initial_sync_days`` before this first sync (0: all history); for a state saved before ``first_day``
    existed, no later than its cursor minus the lookback, where that version would have gone on reading (a
    cursor older than ``initial_sync_days``, after a long pause, would otherwise leave the days between unread)."""
    days = settings.initial_sync_days
    first_day = started_at.date() - timedelta(days=days) if days else __EARLIEST.date()
    if not entry.get("cursor"):
        return first_day
    cursor = _saved_time(entry["cursor"], "payments cursor", whole_days=True)
    return min(first_day, cursor - timedelta(days=__PAYMENTS_LOOKBACK_DAYS))


def sync_with_full_scans(api: ZoneApi, settings: Settings, state: dict, table: str, cursor_field: str,
                         started_at: datetime, *, resync_days: int, first: datetime | date, lookback: timedelta,
                         ceiling: str) -> bool:
    """New rows by ``cursor_field`` (an insert or payment date: the table has no last-modified field), and every
    row from ``first`` again every ``resync_days``, so that edits to older rows arrive with the next re-scan.

    ``state[table] = {"cursor", "full_scan_completed_at"}``; a re-scan under way is ``"full_scan"`` (its own
    cursor and start time), so one interrupted (daily limit, failure) is resumed by the next sync. True when a
    re-scan completed in this sync.
    """
    entry = table_entry(state, table)
    progress = TableProgress(table, log=log, every_rows=settings.page_size)
    if _full_scan_due(entry, table, settings, started_at, resync_days):
        new_rows_walk_interrupted = "cursor" in _walking(entry, table)
        if "full_scan" not in entry:
            entry["full_scan"] = {"started_at": timestamps.utc_iso(started_at)}
        scan = table_entry(entry, "full_scan")
        since = _since(scan, "cursor", settings, lookback=lookback, first=first, table=f"{table} full_scan")
        sync_walk(api, settings, state, table, progress, scan, "cursor", cursor_field, since, ceiling)
        entry["cursor"] = max(filter(None, (entry.get("cursor"), scan.get("cursor"))), default=None)
        entry["full_scan_completed_at"] = entry.pop("full_scan")["started_at"]
        if new_rows_walk_interrupted:
            # The scan read every row from ``first``, below where that walk would resume: left listed, it would
            # only make the next sync skip its lookback.
            _mark_walking(entry, "cursor", False)
        rescanned = True
    else:
        since = _since(entry, "cursor", settings, lookback=lookback, first=first, table=table)
        sync_walk(api, settings, state, table, progress, entry, "cursor", cursor_field, since, ceiling)
        rescanned = False
    _table_done(state, progress)
    return rescanned


def _full_scan_due(entry: dict, table: str, settings: Settings, started_at: datetime, resync_days: int) -> bool:
    if not settings.incremental or "full_scan" in entry or not entry.get("full_scan_completed_at"):
        return True
    last = _saved_time(entry["full_scan_completed_at"], f"{table} full_scan_completed_at", whole_days=False)
    due_since = started_at - timedelta(days=resync_days)
    last = not_in_future(last, started_at, restart=due_since, what=f"{table} full_scan_completed_at", log=log)
    return last <= due_since


def _since(holder: dict, cursor_key: str, settings: Settings, *, lookback: timedelta, first: datetime | date,
           table: str) -> str:
    """The ``where`` literal below which a walk starts (AroFlo has ``>`` only, no ``>=``): see ``_start``."""
    return literal(_start(holder, cursor_key, settings, lookback=lookback, first=first, table=table))


def _start(holder: dict, cursor_key: str, settings: Settings, *, lookback: timedelta,
           first: datetime | date, table: str) -> datetime | date:
    """The moment (a datetime, or a date for whole-day fields) after which a walk reads rows.

    An interrupted walk (listed in ``holder["walking"]``) resumes just below its cursor, re-reading only rows
    tied with it; a new walk re-reads ``lookback`` before the cursor (rows that arrive late with an earlier value);
    without a cursor, or with incremental sync off, it starts at ``first``. Dates are whole days: ``> day - 1``
    keeps ``day``.
    """
    cursor, resuming = holder.get(cursor_key), cursor_key in _walking(holder, table)
    whole_days = not isinstance(first, datetime)
    if cursor:
        cursor = _saved_time(cursor, f"{table} {cursor_key}", whole_days=whole_days)
        # Written back in this connector's own form: cursors are compared as text (see _advance).
        holder[cursor_key] = cursor.isoformat() if whole_days else timestamps.utc_iso(cursor)
    if cursor and (resuming or settings.incremental):
        start, back = cursor, lookback if not resuming else timedelta(0) if whole_days else __RESUME_MARGIN
    else:
        start, back = first, timedelta(0)
    return start - back - timedelta(days=1) if whole_days else start - back


def _walking(holder: dict, table: str) -> list[str]:
    """``holder["walking"]`` (none if absent); anything but a list of cursor names (a hand edit: null, a string)
    fails naming the key, rather than a TypeError or a string read as its characters."""
    return saved(_cursor_names, holder.get("walking", []), f"{table} walking",
                 'a list of cursor names (such as ["cursor"])')


def _cursor_names(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise TypeError("not a list of names")
    return value


def _saved_time(value: object, what: str, *, whole_days: bool) -> datetime | date:
    """A day or a moment read back from the state, in this connector's form or AroFlo's own (hand-edited)."""
    if whole_days:
        return saved(lambda text: day(text, *__SAVED_FORMATS), value, what, "a date (YYYY-MM-DD)")
    return saved(lambda text: moment(text, *__SAVED_FORMATS), value, what,
                 "a UTC timestamp (YYYY-MM-DDTHH:MM:SS.ffffffZ)")


def sync_walk(api: ZoneApi, settings: Settings, state: dict, table: str, progress: TableProgress, holder: dict,
              cursor_key: str, cursor_field: str, since: str, ceiling: str,
              already_delivered: Callable[[dict], bool] = lambda row: False) -> None:
    """Upsert every row with ``cursor_field > since`` (but those ``already_delivered`` by this sync), ascending;
    ``holder[cursor_key]`` follows the pages.

    The cursor is the largest value delivered (capped at ``ceiling``, so one future-dated row cannot hide the
    rows after it) and never moves back; ``holder["walking"]`` lists the walk until its last page.
    If AroFlo ever returned a row older than an earlier page's, a resume could miss rows, so the walk then puts
    the cursor back where it began and moves it only when it completes.
    """
    spec = __SPECS[table]
    log.info(f"{table}: reading rows with {cursor_field} > {since}")
    delivered_max, in_order = None, True
    cursor_before, walking_before = holder.get(cursor_key), cursor_key in _walking(holder, table)
    for page in api.pages(table, [f"and|{cursor_field}|>|{since}"], [f"{cursor_field}|asc", f"{spec.key}|asc"],
                          settings.page_size):
        page_max, in_order_before, skipped = None, in_order, 0
        for record in page.rows:
            row = aroflo_api.to_row(record, spec, table, api.typer)
            if already_delivered(row):
                skipped += 1
            else:
                # Upsert: a row read twice (lookback, resumed walk) replaces itself by id.
                op.upsert(table=table, data=row)
            value = row.get(cursor_field)
            page_max = max(filter(None, (page_max, value)), default=None)
            if in_order and value and delivered_max and value < delivered_max:
                in_order = False
                log.warning(f"{table}: AroFlo returned rows out of {cursor_field} order; this walk checkpoints "
                            "only when it completes")
        delivered_max = max(filter(None, (delivered_max, page_max)), default=None)
        progress.page_done(len(page.rows), f"page {page.page}, pageSize {page.page_size}", skipped=skipped)
        if in_order and delivered_max:
            _advance(holder, cursor_key, delivered_max, ceiling)
            _mark_walking(holder, cursor_key, True)
            if progress.checkpoint_due():  # every full page: a checkpoint costs far less than a request's turn
                # Checkpoint: rows arrive in cursor order, so nothing below the saved cursor is still to come.
                op.checkpoint(state)
                progress.checkpointed()
        elif in_order_before:
            # Checkpoint: the order the cursor relied on did not hold, so rows below it may be still to come; the
            # cursor goes back to where the walk began (a later daily-limit stop saves that) until the walk ends.
            _restore(holder, cursor_key, cursor_before, walking_before)
            op.checkpoint(state)
    _advance(holder, cursor_key, delivered_max, ceiling)
    _mark_walking(holder, cursor_key, False)


def _mark_walking(holder: dict, cursor_key: str, unfinished: bool) -> None:
    """``holder["walking"]`` lists the walks whose cursor was saved mid-walk (users has two walks)."""
    walking = [key for key in holder.pop("walking", []) if key != cursor_key] + ([cursor_key] if unfinished else [])
    if walking:
        holder["walking"] = walking


def _restore(holder: dict, cursor_key: str, cursor: str | None, walking: bool) -> None:
    """Put a walk's cursor (and whether it was mid-walk) back as they were when the walk began."""
    if cursor is None:
        holder.pop(cursor_key, None)
    else:
        holder[cursor_key] = cursor
    _mark_walking(holder, cursor_key, walking)


def _advance(holder: dict, key: str, delivered_max: str | None, ceiling: str) -> None:
    """Move ``holder[key]`` up to what was delivered, at most ``ceiling``, never back."""
    if delivered_max:
        holder[key] = max(filter(None, (holder.get(key), min(delivered_max, ceiling))))


def _table_done(state: dict, progress: TableProgress) -> None:
    # Checkpoint: the table is complete.
    op.checkpoint(state)
    progress.checkpointed()
    progress.finished()


def configuration_form():
    """The setup form: every configuration key, and a setup test that reads one row of the LastUpdate zone."""
    form = ConfigurationForm()
    for key, label in (("uencoded", "uEncoded"), ("pencoded", "pEncoded"), ("orgencoded", "orgEncoded"),
                       ("secret_key", "API secret key")):
        form.add_field(form_field.TextField(
            key, label, form_field.TextField.password, required=True, placeholder=f"your {label}",
            description=f"{label} from AroFlo: Site Administration > Settings > General > AroFlo API."
                        + (" Shown only once, when generated." if key == "secret_key" else "")))
    for key, label, description, placeholder in __TEXT_FIELDS:
        form.add_field(form_field.TextField(key, label, description=description, placeholder=placeholder))
    for key, label, description in __TOGGLES:
        form.add_field(form_field.ToggleField(key, label, description=description))
    form.add_test(label="Sign one request to AroFlo (LastUpdate zone, free of the daily limit)",
                  func=test_connection)
    return form


__TEXT_FIELDS = (
    ("host_ip", "Host IP", "Optional: the public IP this connector calls from, if your AroFlo API setup requires "
                           "it. Sent in the HostIP header and signed.", "203.0.113.10"),
    ("initial_sync_days", "Initial payments window (days)",
     "First sync of payments reads this many days of datepaid (0: all). Users and suppliers: all. Default 90.", "90"),
    ("max_records_per_page", "Rows per page", "1 to 500 (the default and AroFlo's maximum).", "500"),
    ("request_timeout_seconds", "Request timeout (seconds)", "Read timeout per request. Default 30.", "30"),
    ("retry_attempts", "Retries", "Retries after a transient failure or a rate-limit answer. Default 3.", "3"),
    ("supplier_full_resync_days", "Supplier full re-scan (days)", "Suppliers have no last-modified field: re-read "
                                                                   "all of them this often. Default 7.", "7"),
    ("payment_full_resync_days", "Payment full re-scan (days)", "Payments have no last-modified field: re-read all "
                                                                 "of them this often, so edits to older payments "
                                                                 "arrive. Default 7.", "7"),
    ("base_url", "API URL", "Leave empty for https://api.aroflo.com.", __DEFAULT_BASE_URL),
)
__TOGGLES = (
    ("enable_users_sync", "Sync users", "Default on."),
    ("enable_suppliers_sync", "Sync suppliers", "Default on."),
    ("enable_payments_sync", "Sync payments", "Default on."),
    ("enable_incremental_sync", "Incremental sync", "Default on. Off: every sync re-reads everything."),
    ("enable_debug_logging", "Debug logging", "Log every request's zone, filter and page. Default off."),
)


def test_connection(configuration: dict):
    """Setup test: one signed request for one row of LastUpdate; every failure becomes advice, without a secret."""
    refused = []

    def read_one_change():
        settings = validate_configuration(configuration)
        api = open_api(settings, attempts=2)
        since = literal(datetime.now(timezone.utc) - timedelta(days=1))
        try:
            api.get(aroflo_api.build_query("lastupdate", where=[f"and|lastupdateutc|>|{since}"], page=1, page_size=1),
                    "zone=lastupdate (setup test)")
        except aroflo_api.AroFloError as error:
            refused.append(str(error))
        finally:
            api.client.close()

    secrets = tuple(str(configuration.get(key) or "") for key in __SECRET_KEYS)
    failure = explain_failure(read_one_change, service="AroFlo", host_keys="'base_url'", secrets=secrets)
    if failure is None and refused:
        failure = Redactor(secrets).redact(refused[0])
    return Test.failure(failure) if failure else Test.success()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    import json

    with open("configuration.json") as configuration_file:
        connector.debug(configuration=json.load(configuration_file))
