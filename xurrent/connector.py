"""Xurrent (formerly 4me) connector: organizations, products and projects.

Source: Xurrent's REST API v1 at the account's regional host (``https://api[.au|.uk|.ch|.us].xurrent.com/v1``, QA
``api.xurrent.qa``, demo ``api.xurrent-demo.com``) or a configured ``base_url``. Every request, OAuth token
requests included (the docs say "every request"), carries ``X-Xurrent-Account: <account_id>``; every API request
carries ``Authorization: Bearer <token>``. The token is a personal access token (``oauth_token``) or comes from the
OAuth2 client-credentials grant at the region's OAuth host (``https://oauth[.region].xurrent.com/token``), renewed
before it expires and once more after a 401.
Paging: bare JSON arrays, ``per_page`` up to 100, ``Link rel="next"`` followed verbatim (opaque ``search_after``).
Incremental: each table asks ``sort=updated_at&updated_at=>=<cursor>``; rows arrive in ascending ``updated_at`` order,
so the cursor (the largest ``updated_at`` delivered, in UTC) follows every page and is checkpointed every few
thousand rows and when a page fails. The inclusive bound re-reads the cursor's second; upserts by ``id`` absorb
the overlap.
Quirks: collections return only default fields unless ``fields=`` names the rest; ``disabled`` is left out (not
false) for enabled records; timestamps carry local offsets (delivered in UTC); decimals are strings (delivered as
DECIMAL(38,6) when they fit it exactly, else as text in ``<column>_raw``); every typed value is checked before its
upsert, and one of another kind fails the sync naming the table, column, record and value; the documented text
fields are declared STRING (the destination types an undeclared column from its values); a walk is capped at
100,000 records (``X-Pagination-Throttled: true``), so a capped walk continues in a new ``updated_at >=`` window
from the largest value it reached. Organizations and products are retired by
``disabled``, not deleted; archived or trashed projects are not detected (see README).
Rate limits: 429 + Retry-After (the shared client; waits of up to 3,660 s), ``x-ratelimit-remaining``/``-reset``
pacing, and a client-side limit of 20 requests per 2.2 seconds (the documented burst limit is about 20 per 2 s).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: configuration, UTC timestamps, flattening, transport, auth, paging, progress, state.
from shared import config, http_client, timestamps
from shared.auth import BearerToken, OAuth2ClientCredentials
from shared.flatten import fits_decimal, flatten_record, quoted, to_decimal, to_flag
from shared.http_client import Client, RateLimiter, RetryPolicy, origin
from shared.pagination import PAGE_FAILURES, PaginationError, by_next_link
from shared.parsing import PayloadError
from shared.progress import TableProgress
from shared.runner import default_log_level
from shared.setup_check import explain_failure
from shared.state import saved, table_entry

__REGION_API_URLS = {
    "global": "https://api.xurrent.com/v1", "au": "https://api.au.xurrent.com/v1",
    "uk": "https://api.uk.xurrent.com/v1", "ch": "https://api.ch.xurrent.com/v1",
    "us": "https://api.us.xurrent.com/v1", "qa": "https://api.xurrent.qa/v1", "qa-au": "https://api.au.xurrent.qa/v1",
    "qa-uk": "https://api.uk.xurrent.qa/v1", "qa-ch": "https://api.ch.xurrent.qa/v1",
    "qa-us": "https://api.us.xurrent.qa/v1", "demo": "https://api.xurrent-demo.com/v1",
}
__ACCOUNT_HEADER = "X-Xurrent-Account"
__MAX_PAGE_SIZE = 100
__CONNECT_TIMEOUT_S = 10.0
__BURST_WINDOW_S = 2.2  # Xurrent's short-burst limit is about 20 requests per 2 s; 0.2 s margin for network jitter
__BURST_MAX_REQUESTS = 20
__CHECKPOINT_EVERY_ROWS = 5_000  # each checkpoint is a destination transaction; a crash re-reads at most this many
__QUOTA_FLOOR_REQUESTS = 2  # pause for the quota reset when this few requests are left
__MAX_QUOTA_WAIT_S = 3660.0  # the quota window is hourly (inferred): a 429's Retry-After or a quota reset is waited
# out up to that and a minute (the Ruby SDK's limit), since the quota is per user and another client can spend it
__QUOTA_RESET_MARGIN_S = 0.5  # x-ratelimit-reset has whole seconds; wake up just after it, not just before
__CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the API's filter format: UTC, whole seconds
# The contract gives no scale for decimals (its examples have one place: "320000.0"). 38 digits is the most the
# SDK and destinations take; 6 of them after the point hold money and rates to a millionth, and 32 before it any
# amount. A value with more digits would be rounded or nulled by the destination, so it goes to <column>_raw.
__DECIMAL_PLACES = 6
__DECIMAL_WHOLE_DIGITS = 32
__DECIMAL = {"type": "DECIMAL", "precision": __DECIMAL_WHOLE_DIGITS + __DECIMAL_PLACES, "scale": __DECIMAL_PLACES}
__LONG_MIN, __LONG_MAX = -2 ** 63, 2 ** 63 - 1  # the LONG column's range (the SDK refuses others at upsert)
__WHOLE_NUMBER = 'a whole number (expected an integer such as 12 or "12")'
__LONG_RANGE = f"in the LONG range ({__LONG_MIN} to {__LONG_MAX})"
__API_HINT = ("Likely causes: the token (personal access token or OAuth client) is wrong, expired or revoked; its "
              "scopes do not allow reading organizations, products and projects; 'account_id' is not the account "
              "the token belongs to; or 'region' (or 'base_url') is not the account's region")
__TOKEN_HINT = ("The OAuth token request was refused: check 'client_id' and 'client_secret', and that 'region' (or "
                "'token_url') is the account's region")

@dataclass(frozen=True)
class Table:
    """One collection: the fields to request and how its values are typed."""
    name: str
    fields: tuple  # documented fields, requested with fields= (collections return only defaults otherwise)
    references: tuple  # {id, name} objects, flattened to <ref>_id, <ref>_name, <ref>_account_id, ...
    texts: tuple  # documented text fields, declared STRING (the destination could type "T" as a flag)
    timestamps: tuple = ("created_at", "updated_at")
    decimals: tuple = ()
    booleans: tuple = ()
    integers: tuple = ()
    json_fields: tuple = ("custom_fields",)
    reference_texts: tuple = ("name", "account_id", "account_name")  # a reference's documented text parts


__TABLES = (
    Table("organizations",
          ("sourceID", "name", "parent", "manager", "created_at", "updated_at", "business_unit",
           "business_unit_organization", "disabled", "end_user_privacy", "financialID", "region", "remarks",
           "substitute", "custom_fields", "picture_uri", "source", "ui_extension", "order_template"),
          ("parent", "manager", "business_unit_organization", "substitute", "ui_extension", "order_template"),
          ("sourceID", "name", "financialID", "region", "remarks", "picture_uri", "source"),
          booleans=("disabled", "business_unit", "end_user_privacy")),
    Table("products",
          ("sourceID", "name", "category", "support_team", "service", "created_at", "updated_at", "brand", "model",
           "productID", "rule_set", "depreciation_method", "financial_owner", "supplier", "rate", "useful_life",
           "salvage_value", "salvage_value_currency", "remarks", "picture_uri", "ui_extension", "workflow_template",
           "workflow_manager", "recurrence", "custom_fields", "disabled", "source"),
          ("support_team", "service", "service_provider", "financial_owner", "supplier", "ui_extension",
           "workflow_template", "workflow_manager"),
          ("sourceID", "name", "category", "brand", "model", "productID", "rule_set", "depreciation_method",
           "salvage_value_currency", "remarks", "picture_uri", "source"),
          decimals=("rate", "salvage_value"), booleans=("disabled",), integers=("useful_life",),
          json_fields=("custom_fields", "recurrence")),
    Table("projects",
          ("sourceID", "subject", "manager", "category", "status", "completion_target_at", "completed_at", "service",
           "created_at", "updated_at", "customer", "justification", "program", "risk_level", "cost_of_effort",
           "cost_of_purchases", "total_cost", "value", "value_currency", "effort", "roi", "completion_reason",
           "resolution_duration", "time_zone", "work_hours", "custom_fields", "ui_extension", "source"),
          ("manager", "service", "service_provider", "customer", "program", "risk_level", "work_hours", "ui_extension"),
          ("sourceID", "subject", "category", "status", "justification", "value_currency", "completion_reason",
           "time_zone", "source", "service_localized_name"),
          timestamps=("created_at", "updated_at", "completion_target_at", "completed_at"),
          decimals=("cost_of_effort", "cost_of_purchases", "total_cost", "value"),
          integers=("effort", "roi", "resolution_duration")),
)


@dataclass(frozen=True)
class Settings:
    account_id: str
    base_url: str
    token_url: str | None
    oauth_token: str | None = field(repr=False)
    client_id: str | None
    client_secret: str | None = field(repr=False)
    initial_sync_days: int | None
    page_size: int
    timeout_s: int
    retry_attempts: int
    incremental: bool


@config.quoting_no_secret("oauth_token", "client_secret")
def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ValueError names the key and the expected form."""
    account_id = config.text(configuration, "account_id", required=True)
    if not all(c.isalnum() or c in "-_." for c in account_id):
        raise config.ConfigError(f"configuration key 'account_id': expected an account id such as 'widget', "
                                 f"got {account_id!r}")
    oauth_token = config.text(configuration, "oauth_token", secret=True)
    client_id = config.text(configuration, "client_id")
    client_secret = config.text(configuration, "client_secret", secret=True)
    _check_one_auth_mode(oauth_token, client_id, client_secret)
    region = config.choice(configuration, "region", tuple(__REGION_API_URLS), default="global")
    base_url = config.url(configuration, "base_url", default=__REGION_API_URLS[region])
    token_url = config.url(configuration, "token_url", default=_oauth_token_url(base_url) or "")
    if client_id and not token_url:
        raise config.ConfigError("configuration key 'token_url' is required with client credentials when "
                                 "'base_url' is not an https://api.<domain>/v1 address")
    return Settings(
        account_id=account_id, base_url=base_url, token_url=token_url or None, oauth_token=oauth_token,
        client_id=client_id, client_secret=client_secret,
        initial_sync_days=config.integer(configuration, "initial_sync_days", default=None, minimum=1, maximum=365),
        page_size=config.integer(configuration, "max_records_per_page", default=__MAX_PAGE_SIZE, minimum=1,
                                 maximum=__MAX_PAGE_SIZE),
        timeout_s=config.integer(configuration, "request_timeout_seconds", default=30, minimum=10, maximum=300),
        retry_attempts=config.integer(configuration, "retry_attempts", default=3, minimum=1, maximum=10),
        incremental=config.boolean(configuration, "enable_incremental_sync", default=True),
    )


def _check_one_auth_mode(oauth_token: str | None, client_id: str | None, client_secret: str | None) -> None:
    if oauth_token and (client_id or client_secret):
        raise config.ConfigError("set either 'oauth_token' (a personal access token) or 'client_id' and "
                                 "'client_secret' (OAuth client credentials), not both")
    if client_id and not client_secret:
        raise config.ConfigError("configuration key 'client_secret' is required with 'client_id'")
    if client_secret and not client_id:
        raise config.ConfigError("configuration key 'client_id' is required with 'client_secret'")
    if not oauth_token and not client_id:
        raise config.ConfigError("configuration key 'oauth_token' (a personal access token) is required, or "
                                 "'client_id' and 'client_secret' (OAuth client credentials)")


def schema(configuration: dict):
    """Every table with its key; timestamps UTC_DATETIME, money DECIMAL (and its ``_raw`` text), flags BOOLEAN,
    custom fields JSON, and the documented text fields STRING: the destination types an undeclared column from
    its values, so a text "T" could land as a flag and "1.10" as the number 1.1."""
    return [{"table": table.name, "primary_key": ["id"], "columns": _columns(table)} for table in __TABLES]


def _columns(table: Table) -> dict:
    columns = {"id": "LONG", **{f"{ref}_id": "LONG" for ref in table.references}}
    columns.update({name: "STRING" for name in _text_columns(table)})
    columns.update({name: "UTC_DATETIME" for name in table.timestamps})
    columns.update({name: __DECIMAL for name in table.decimals})
    columns.update({f"{name}_raw": "STRING" for name in table.decimals})
    columns.update({name: "BOOLEAN" for name in table.booleans})
    columns.update({name: "LONG" for name in table.integers})
    columns.update({name: "JSON" for name in table.json_fields})
    return columns


def _text_columns(table: Table) -> tuple:
    """The documented text fields and each reference's text parts, named as ``flatten_record`` names them."""
    return table.texts + tuple(f"{ref}_{part}" for ref in table.references for part in table.reference_texts)


def update(configuration: dict, state: dict):
    """One sync: organizations, products, projects, each from its own cursor."""
    default_log_level(log)
    settings = validate_configuration(configuration)
    http = new_client(settings)
    try:
        for table in __TABLES:
            sync_table(http, settings, state, table)
    finally:
        http.close()


def new_client(settings: Settings) -> Client:
    """One session whose every request (token requests included) carries the account header."""
    http = Client(timeout_s=(__CONNECT_TIMEOUT_S, float(settings.timeout_s)),
                  retry=RetryPolicy(max_attempts=settings.retry_attempts + 1, retry_after_cap_s=__MAX_QUOTA_WAIT_S),
                  limiter=RateLimiter([(__BURST_WINDOW_S, __BURST_MAX_REQUESTS)]),
                  headers={"Accept": "application/json", __ACCOUNT_HEADER: settings.account_id},
                  auth_failure_hint=__TOKEN_HINT, on_response=pace_by_quota, log=log)
    if settings.oauth_token:
        auth = BearerToken(settings.oauth_token)
    else:
        auth = OAuth2ClientCredentials(settings.token_url, settings.client_id, settings.client_secret, http)
    return http.with_auth(auth, auth_failure_hint=__API_HINT)


def sync_table(http: Client, settings: Settings, state: dict, table: Table) -> None:
    """Walk the table from its cursor in ascending ``updated_at`` order; ``state[name] = {"cursor": <UTC>}``.

    A walk the API caps (throttled) continues in a new window from the largest ``updated_at`` it reached.
    """
    since = lower_bound(table_entry(state, table.name), table.name, settings)
    progress = TableProgress(table.name, log, every_rows=__CHECKPOINT_EVERY_ROWS)
    while True:
        walk = sync_walk(http, settings, state, table, since, progress)
        if not walk["throttled"]:
            break
        since = next_window(walk, table)
    # Checkpoint: the table is complete up to its cursor.
    op.checkpoint(state)
    progress.finished(f"cursor {state[table.name].get('cursor')}")


def sync_walk(http: Client, settings: Settings, state: dict, table: Table, since: str | None,
              progress: TableProgress) -> dict:
    """One walk from ``since``: every row upserted; while rows ascend, the cursor follows every page.

    The state's cursor is brought up to date after each page and committed at the progress cadence (each
    checkpoint is a destination transaction) and when a page fails, so a failed sync resumes at the failed page.
    """
    entry = state[table.name]
    cursor_before = entry.get("cursor")
    walk = {"since": since, "latest": None, "ascending": True, "throttled": False, "undated": 0, "unfit": set()}
    try:
        for page in walk_pages(http, settings, table, since, settings.page_size):
            ascending_before = walk["ascending"]
            for record in page.records:
                row = to_row(record, table)
                warn_of_unfit_decimals(walk, row, table)
                # Upsert: insert the row, or replace the one with the same id (the >= bound re-reads a few).
                op.upsert(table=table.name, data=row)
                note_updated_at(walk, row["updated_at"], table)
            walk["throttled"] |= page.response.headers.get("X-Pagination-Throttled", "").lower() == "true"
            progress.page_done(len(page.records), f"updated_at up to {walk['latest']}")
            if walk["ascending"]:
                advance_cursor(entry, walk["latest"])
                if progress.checkpoint_due():
                    # Checkpoint: rows come in ascending updated_at order, so every row up to the cursor is delivered.
                    op.checkpoint(state)
                    progress.checkpointed()
            elif ascending_before:
                # Checkpoint: the order the cursor relied on did not hold, so rows below it may be still to come;
                # the cursor goes back to where the walk began until the walk is complete.
                restore_cursor(entry, cursor_before)
                op.checkpoint(state)
    except PAGE_FAILURES:
        if not walk["ascending"]:  # seen out of order in the failed page itself: rows below the cursor may be unread
            restore_cursor(entry, cursor_before)
        # Checkpoint: the pages before the failure are delivered and the cursor covers only them.
        op.checkpoint(state)
        raise
    advance_cursor(entry, walk["latest"])
    if walk["undated"]:
        log.warning(f"{table.name}: {walk['undated']} records had no updated_at; delivered, not used for the cursor")
    return walk


def lower_bound(entry: dict, table_name: str, settings: Settings) -> str | None:
    """The saved cursor (incremental), else ``initial_sync_days`` ago, else None: all history."""
    if entry.get("cursor"):  # read even when not used, so that advance_cursor can compare with it (blank: none)
        entry["cursor"] = saved(_as_cursor, entry["cursor"], f"{table_name} cursor", "a timestamp")
    if settings.incremental and entry.get("cursor"):
        return entry["cursor"]
    if settings.initial_sync_days:
        start = datetime.now(timezone.utc) - timedelta(days=settings.initial_sync_days)
        return start.strftime(__CURSOR_FORMAT)
    return None


def walk_pages(http: Client, settings: Settings, table: Table, since: str | None, per_page: int):
    """One walk's pages, following ``Link rel="next"`` verbatim on ``base_url``'s host (see ``on_base_host``)."""
    params = {"per_page": per_page, "sort": "updated_at", "fields": ",".join(table.fields)}
    if since:
        params["updated_at"] = f">={since}"
    yield from by_next_link(http, f"{settings.base_url}/{table.name}", params=params,
                            records_of=lambda body: _array(body, table.name),
                            follow=lambda link: on_base_host(link, settings.base_url, table.name))


def on_base_host(link: str, base_url: str, table_name: str) -> str:
    """The next link, on ``base_url``'s host: a server behind a custom domain may write its canonical host into
    the links (the Ruby SDK keeps only their path). The token is never sent to another host, and a link whose
    path is not under ``base_url``'s is refused."""
    if origin(link) == origin(base_url):
        return link
    parts, base = urlsplit(link), urlsplit(base_url)
    if not (parts.path + "/").startswith(base.path.rstrip("/") + "/"):
        raise PaginationError(f"{table_name}: the next-page link points at another host than base_url, outside "
                              "its path; refusing to send the token there")
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


def note_updated_at(walk: dict, updated_at: str, table: Table) -> None:
    """Track the largest ``updated_at`` of the walk and whether rows still ascend (checkpoints rely on it)."""
    if updated_at is None:
        walk["undated"] += 1
        return
    value = updated_at[:19] + "Z"
    if walk["latest"] and value < walk["latest"] and walk["ascending"]:
        walk["ascending"] = False
        log.warning(f"{table.name}: rows arrived out of updated_at order; the cursor moves only at the walk's end")
    walk["latest"] = max(walk["latest"] or value, value)


def advance_cursor(entry: dict, latest: str | None) -> None:
    if latest and (not entry.get("cursor") or latest > entry["cursor"]):
        entry["cursor"] = latest


def restore_cursor(entry: dict, cursor: str | None) -> None:
    if cursor is None:
        entry.pop("cursor", None)
    else:
        entry["cursor"] = cursor


def next_window(walk: dict, table: Table) -> str:
    """Where a capped walk continues; a cap reached inside one second cannot be split, so that fails loudly."""
    if not walk["ascending"]:
        raise PaginationError(f"{table.name}: the walk was capped (X-Pagination-Throttled) and its rows were not "
                              "sorted by updated_at, so it cannot be split into updated_at windows")
    if walk["latest"] is None or (walk["since"] is not None and walk["latest"] <= walk["since"]):
        raise PaginationError(f"{table.name}: more records than the API's per-walk cap share updated_at "
                              f"{walk['since']}; they cannot be split into smaller updated_at windows")
    log.info(f"{table.name}: the API capped the walk (X-Pagination-Throttled); continuing from updated_at >= "
             f"{walk['latest']}")
    return walk["latest"]


def to_row(record: dict, table: Table) -> dict:
    """Flatten references, default ``disabled`` to false, check and convert every typed value (``typed_row``)."""
    if not isinstance(record, dict) or record.get("id") is None:
        raise PayloadError(f"{table.name}: a record without an id: {str(record)[:200]}")
    record = dict(record)
    if "disabled" in table.booleans and record.get("disabled") is None:
        record["disabled"] = False  # collections leave it out for enabled records
    row = flatten_record(record, json_keys=set(table.json_fields))
    for ref in table.references:
        if ref in row and row[ref] in (None, "{}"):  # a blank reference (null or {}): its columns become NULL
            del row[ref]
            row[f"{ref}_id"] = row[f"{ref}_name"] = None
    for name in table.timestamps:
        row.setdefault(name, None)
    typed_row(row, table)
    if row["id"] is None:
        raise PayloadError(f"{table.name}: a record with a blank id: {str(record)[:200]}")
    return row


def typed_row(row: dict, table: Table) -> None:
    """Each typed column's value as its declared type takes it; a blank is null. A value of another kind fails
    the sync here, naming the table, column, record and value (the SDK and the destination name none of them);
    a decimal the column cannot hold exactly moves to ``<column>_raw`` (the destination would round it)."""
    integers = ("id", *(f"{ref}_id" for ref in table.references), *table.integers)
    sent = {name: row[name] for name in table.decimals if row.get(name) is not None}
    for names, convert in ((integers, _as_integer), (table.booleans, _as_boolean),
                           (table.timestamps, _as_timestamp), (table.decimals, _as_decimal)):
        for name in names:
            if name not in row:
                continue
            try:
                row[name] = convert(row[name])
            except ValueError as expected:
                raise PayloadError(f"{table.name}.{name} (record id {quoted(row['id'])}): {quoted(row[name])} "
                                   f"is not {expected}") from None
    for name, value in sent.items():
        if row[name] is None:
            continue
        if fits_decimal(row[name], __DECIMAL["precision"], __DECIMAL_PLACES):
            row[name] = format(row[name], "f")
        else:  # kept as sent: fixed-point text of 1e999999 would be a million digits
            row[f"{name}_raw"], row[name] = value.strip() if isinstance(value, str) else repr(value), None


def warn_of_unfit_decimals(walk: dict, row: dict, table: Table) -> None:
    """One warning per column and walk for decimals delivered in ``<column>_raw`` instead of the typed column."""
    for name in table.decimals:
        if row.get(f"{name}_raw") is not None and name not in walk["unfit"]:
            walk["unfit"].add(name)
            log.warning(f"{table.name}.{name} (record id {row['id']}): {quoted(row[f'{name}_raw'])} has more "
                        f"digits than DECIMAL({__DECIMAL['precision']},{__DECIMAL['scale']}) holds "
                        f"({__DECIMAL_PLACES} after the point, {__DECIMAL_WHOLE_DIGITS} before it); it is kept "
                        f"exactly in {name}_raw and {name} is null (further such values of this walk are not logged)")


def _as_integer(value) -> int | None:
    """A whole number: an int, a whole float (12.0) or its text ("12", "12.0"); fractions are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(__WHOLE_NUMBER)
    number = value if isinstance(value, int) else _whole_number(value)  # hot path: ids arrive as ints
    if not __LONG_MIN <= number <= __LONG_MAX:
        raise ValueError(__LONG_RANGE)
    return number


def _whole_number(value: float | str) -> int:
    try:
        number = to_decimal(value)
    except ValueError:
        raise ValueError(__WHOLE_NUMBER) from None
    if number != number.to_integral_value():
        raise ValueError(__WHOLE_NUMBER)
    if number.adjusted() > 18:  # beyond the LONG range; checked before int() would build a huge number
        raise ValueError(__LONG_RANGE)
    return int(number)


def _as_decimal(value) -> Decimal | None:
    """A decimal string ("320000.0") or a JSON number, exactly."""
    try:
        return to_decimal(value)
    except ValueError:
        raise ValueError('a decimal number (expected text such as "320000.0")') from None


def _as_boolean(value) -> bool | None:
    """Documented as JSON booleans; "true"/"false"/"1"/"0" text (any case) is read as well."""
    try:
        return to_flag(value)
    except ValueError:
        raise ValueError("a boolean (true or false)") from None


def _as_timestamp(value) -> str | None:
    """ISO 8601 text with an offset or Z, as UTC."""
    if isinstance(value, str) or value is None:
        try:
            return timestamps.to_utc_iso(value)
        except ValueError:
            pass
    raise ValueError('a timestamp (expected ISO 8601 text such as "2016-03-22T21:02:50-05:00")')


def pace_by_quota(response) -> None:
    """Wait for the quota window to reset when ``x-ratelimit-remaining`` is nearly spent. A 429 with Retry-After
    is retried by the client after it instead; one without it, on a spent quota, waits for the reset here (the
    client's own backoff of seconds would spend its retries long before an hourly quota resets), and one on a
    quota not spent (the short burst limit) takes the client's backoff."""
    if response.status_code == 429 and response.headers.get("Retry-After") is not None:
        return
    remaining = _int_or_none(response.headers.get("x-ratelimit-remaining"))
    reset_epoch_s = _int_or_none(response.headers.get("x-ratelimit-reset"))
    if remaining is None or reset_epoch_s is None or remaining > __QUOTA_FLOOR_REQUESTS:
        return
    wait_s = min(__MAX_QUOTA_WAIT_S, reset_epoch_s - http_client.wall_clock() + __QUOTA_RESET_MARGIN_S)
    if wait_s > 0:
        log.warning(f"Xurrent request quota nearly spent ({remaining} left); waiting {wait_s:.0f}s for its reset")
        http_client.sleep(wait_s)


def _array(body, table_name: str) -> list:
    if not isinstance(body, list):
        raise PayloadError(f"{table_name}: expected a JSON array of records, got {type(body).__name__}")
    return body


def _as_cursor(value: str) -> str:
    """Any ISO timestamp in the API's filter form (UTC, whole seconds)."""
    return timestamps.parse_iso(value).astimezone(timezone.utc).strftime(__CURSOR_FORMAT)


def _oauth_token_url(api_url: str) -> str | None:
    """``https://api.<domain>/v1`` -> ``https://oauth.<domain>/token`` (the regional OAuth host)."""
    parts = urlsplit(api_url)
    if not parts.hostname or not parts.hostname.startswith("api."):
        return None
    return f"{parts.scheme}://oauth.{parts.netloc[len('api.'):]}/token"


def _int_or_none(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def configuration_form():
    """The setup form: every configuration key, and a setup test that reads one record of each table."""
    form = ConfigurationForm()
    text, password = form_field.TextField.plain_text, form_field.TextField.password
    form.add_field(form_field.TextField(
        "account_id", "Account ID", text, required=True, placeholder="widget",
        description="The Xurrent account to sync: its short id (the X-Xurrent-Account header), e.g. 'widget'."))
    form.add_field(form_field.DropdownField(
        "region", "Region", description="The region that hosts the account. Ignored when 'API base URL' is set.",
        fields=[form_field.DropdownFieldParam(value=name, label=f"{name} ({url.split('/')[2]})")
                for name, url in __REGION_API_URLS.items()], placeholder="global"))
    form.add_field(form_field.TextField(
        "oauth_token", "Personal access token", password, placeholder="a personal access token",
        description="Read access to organizations, products and projects. Leave empty to use OAuth client "
                    "credentials instead."))
    form.add_field(form_field.TextField(
        "client_id", "OAuth client ID", text, placeholder="an OAuth application's client id",
        description="OAuth client-credentials application (with 'client_secret'); leave empty with a token."))
    form.add_field(form_field.TextField("client_secret", "OAuth client secret", password,
                                        description="The OAuth application's secret.", placeholder="client secret"))
    form.add_field(form_field.TextField(
        "base_url", "API base URL", text, placeholder="https://api.xurrent.com/v1",
        description="Only for a custom domain: https://api.<domain>/v1. Empty: the region's host."))
    form.add_field(form_field.TextField(
        "token_url", "OAuth token URL", text, placeholder="https://oauth.xurrent.com/token",
        description="Only when the token host cannot be derived from the API base URL."))
    form.add_field(form_field.TextField(
        "initial_sync_days", "Initial sync (days)", text, placeholder="all history",
        description="First sync reads records updated in the last 1-365 days. Empty: all history."))
    form.add_field(form_field.TextField("max_records_per_page", "Records per page", text, placeholder="100",
                                        description="1-100; default 100 (fewest requests against the quota)."))
    form.add_field(form_field.TextField("request_timeout_seconds", "Request timeout (seconds)", text,
                                        placeholder="30", description="10-300; default 30."))
    form.add_field(form_field.TextField("retry_attempts", "Retries", text, placeholder="3",
                                        description="Retries of a failed request (1-10); default 3."))
    form.add_field(form_field.ToggleField(
        "enable_incremental_sync", "Incremental sync",
        description="On (default): each sync reads only records updated since the last. Off: every sync reads all."))
    form.add_test(label="Read one record of each table with these credentials", func=test_connection)
    return form


def test_connection(configuration: dict):
    """Setup test: one record of each table (validates token, scopes, account, region and fields)."""
    def check():
        settings = validate_configuration(configuration)
        http = new_client(settings)
        try:
            for table in __TABLES:
                next(walk_pages(http, settings, table, None, per_page=1))
        finally:
            http.close()

    secrets = tuple(str(configuration.get(key) or "") for key in ("oauth_token", "client_secret"))
    failure = explain_failure(check, service="Xurrent", secrets=secrets,
                              host_keys="'region' (or 'base_url') and 'account_id'")
    return Test.success() if failure is None else Test.failure(failure)


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    import json

    with open("configuration.json") as configuration_file:
        connector.debug(configuration=json.load(configuration_file))
