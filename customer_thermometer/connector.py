"""Customer Thermometer connector: survey responses (blast results), comments, recipient lists, thermometers, metrics.

Source: one endpoint, https://app.customerthermometer.com/api.php, the operation chosen by ``getMethod``. The API
key travels in the query string (``apiKey``), so no URL is ever logged: calls are named by method and window, and
every message goes through the client's Redactor. Lists answer XML (parsed without DTDs or entities, root
checked; an empty body or empty root is zero rows, plain text is the API's error and fails the sync); metrics
answer a bare number. There is no paging: ``getBlastResults`` and ``getComments`` keep only the latest ``limit``
rows of a ``fromDate``/``toDate`` window, so a window that comes back full is narrowed and read again (see
customer_thermometer_api.walk_windows). Dates are whole days in an unknown timezone.
Incremental (blast_result, comment): windows from ``state[table]["cursor"]`` (first sync: ``from_date``) to
tomorrow (UTC); the cursor moves over completed windows only, to the last complete UTC day (yesterday) minus
``lookback_days``, and the next sync starts there (inclusive). recipient_list and thermometer are read whole each
sync; only then are they truncated and re-upserted, with one checkpoint, so a failed read deletes nothing.
metric: one row per metric per UTC day (key metric + captured_date; a rerun the same day overwrites it).
"""

import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# The SDK: Connector wires schema/update/form; op emits rows and checkpoints; log writes to the sync log.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# The suite's helpers: configuration, the key as a query parameter, transport, progress, setup advice, state.
from shared import config, timestamps
from shared.auth import QueryKey
from shared.flatten import ValueTyper
from shared.http_client import Client, RetryPolicy
from shared.progress import TableProgress
from shared.redaction import Redactor
from shared.runner import default_log_level, truncate_table
from shared.setup_check import explain_failure
from shared.state import day, not_in_future, saved, table_entry

try:  # The API helpers next to this file: on sys.path under Fivetran and `fivetran debug`, not when loaded by path.
    import customer_thermometer_api as api
except ModuleNotFoundError:
    sys.path.append(str(Path(__file__).resolve().parent))
    import customer_thermometer_api as api

__DEFAULT_BASE_URL = "https://app.customerthermometer.com/api.php"
__DEFAULT_FROM_DATE = date(1970, 1, 1)
__DEFAULT_LOOKBACK_DAYS = 2
__MAX_LOOKBACK_DAYS = 365
__WINDOW_ROW_LIMIT = 10_000  # `limit` on every list call: the cap one client reports, within every claimed maximum
__DAY_ROW_LIMIT = 100_000  # a single full day is read once more with this (a vendor support example uses it)
__METRIC_WINDOW_DAYS = 30  # each metric covers the 30 UTC days ending on the capture day, both included
__METRIC_RESULT_LIMIT = 100_000  # sent with metrics, which otherwise count only the latest 100 results
__CHECKPOINT_EVERY_ROWS = 5_000  # windowed tables: a crash re-reads at most about this many rows
# The text fields of a response in the contract (a comment row is taken to carry the same; unconfirmed)
__RESPONSE_TEXT = {field: "STRING" for field in (
    "response", "temperature_id", "recipient", "first_name", "last_name", "company", "comment", "blast_id",
    "thermometer_id", *(f"custom_{n}" for n in range(1, 13)))}
__TIMEOUT_S = (10.0, 120.0)  # connect, read (a full window is a large body; see shared.http_client on the deadline)
__SETUP_TEST_ATTEMPTS = 2
__AUTH_HINT = "Check 'api_key' (Customer Thermometer: Settings > API)"
__SERVICE = "Customer Thermometer"


@dataclass(frozen=True)
class Settings:
    api_key: str = field(repr=False)
    base_url: str
    from_date: date
    lookback_days: int


@config.quoting_no_secret("api_key")
def validate_configuration(configuration: dict) -> Settings:
    """Typed settings from the string configuration; a ValueError names the key and the expected form.

    A base_url with a query string is refused first (its query is where a key hides: the "API request URL" copied
    from the account settings can end in ``?apiKey=...``); no message quotes the key, even from another field.
    """
    if "?" in str((configuration or {}).get("base_url") or ""):
        raise config.ConfigError(f"configuration key 'base_url': expected the API request URL without a query "
                                 f"string, such as {__DEFAULT_BASE_URL} (the key belongs in 'api_key')")
    return Settings(
        api_key=config.text(configuration, "api_key", required=True, secret=True),
        base_url=config.url(configuration, "base_url", default=__DEFAULT_BASE_URL),
        from_date=config.day(configuration, "from_date", default=__DEFAULT_FROM_DATE, today=utc_now().date()),
        lookback_days=config.integer(configuration, "lookback_days", default=__DEFAULT_LOOKBACK_DAYS, minimum=0,
                                     maximum=__MAX_LOOKBACK_DAYS),
    )


def schema(configuration: dict):
    """Every table with its key; keys and the documented text fields STRING, flags BOOLEAN, dates UTC_DATETIME.

    XML carries text only, but the destination types an undeclared column from its values (a thermometer named
    "1.10" would make ``name`` a number column), so every field the contract names is declared."""
    return [
        {"table": "blast_result", "primary_key": ["response_id"],
         "columns": {"response_id": "STRING", "response_date": "UTC_DATETIME", "blast_date": "UTC_DATETIME",
                     "response_bounced": "BOOLEAN", "comment_hidden": "BOOLEAN", **__RESPONSE_TEXT}},
        {"table": "comment", "primary_key": ["response_id"],
         "columns": {"response_id": "STRING", "date_submitted": "UTC_DATETIME", "comment_hidden": "BOOLEAN",
                     **__RESPONSE_TEXT}},
        {"table": "recipient_list", "primary_key": ["id"], "columns": {"id": "STRING", "name": "STRING"}},
        {"table": "thermometer", "primary_key": ["id"], "columns": {"id": "STRING", "name": "STRING"}},
        {"table": "metric", "primary_key": ["metric", "captured_date"],
         "columns": {"metric": "STRING", "captured_date": "NAIVE_DATE", "captured_at": "UTC_DATETIME",
                     "window_from": "NAIVE_DATE", "window_to": "NAIVE_DATE", "value": "DOUBLE",
                     "api_method": "STRING"}},
    ]


def update(configuration: dict, state: dict):
    """One sync: the two full lists, the two windowed tables, then today's metrics."""
    default_log_level(log)
    settings = validate_configuration(configuration)
    now = utc_now()
    http = new_client(settings)
    # A flag or date that does not parse is kept as text and logged once (redacted: it quotes the source).
    typer = ValueTyper(lambda message: log.warning(http.redactor.redact(message)))
    try:
        sync_thermometer(http, settings, state, typer)
        sync_recipient_list(http, settings, state, typer)
        sync_blast_result(http, settings, state, typer, now.date())
        sync_comment(http, settings, state, typer, now.date())
        sync_metric(http, settings, state, now)
    finally:
        http.close()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_client(settings: Settings, retry: RetryPolicy = RetryPolicy()) -> Client:
    return Client(auth=QueryKey("apiKey", settings.api_key), redactor=Redactor([settings.api_key]), retry=retry,
                  timeout_s=__TIMEOUT_S, auth_failure_hint=__AUTH_HINT, log=log)


def sync_thermometer(http: Client, settings: Settings, state: dict, typer: ValueTyper) -> None:
    replace_table(http, settings, state, typer, api.THERMOMETERS)


def sync_recipient_list(http: Client, settings: Settings, state: dict, typer: ValueTyper) -> None:
    replace_table(http, settings, state, typer, api.RECIPIENT_LISTS)


def replace_table(http: Client, settings: Settings, state: dict, typer: ValueTyper, method: api.ListMethod) -> None:
    """Read the whole list first; only then truncate, re-upsert and checkpoint together.

    A read that fails raises before the truncate, so no row is marked deleted; rows gone from the source are
    marked deleted by the truncate, which the checkpoint commits with the rows that are still there.
    """
    progress = TableProgress(method.table, log, unit="calls")
    rows = api.fetch_rows(http, settings.base_url, method, {}, typer)
    progress.page_done(len(rows))
    # Truncate: soft-delete every row synced before; each row upserted below is live again.
    truncate_table(op, method.table, log)
    for row in rows:
        # Upsert: insert the row or replace the one with the same id.
        op.upsert(table=method.table, data=row)
    # Checkpoint: commit the truncate and the full list at once (these tables keep no state of their own).
    op.checkpoint(state)
    progress.finished()


def sync_blast_result(http: Client, settings: Settings, state: dict, typer: ValueTyper, today: date) -> None:
    sync_by_windows(http, settings, state, typer, api.BLAST_RESULTS, today)


def sync_comment(http: Client, settings: Settings, state: dict, typer: ValueTyper, today: date) -> None:
    sync_by_windows(http, settings, state, typer, api.COMMENTS, today)


def sync_by_windows(http: Client, settings: Settings, state: dict, typer: ValueTyper, method: api.ListMethod,
                    today: date) -> None:
    """Walk date windows from the cursor to tomorrow (UTC; the account may be ahead of UTC), oldest first.

    ``state[table] = {"cursor": "YYYY-MM-DD", "window_days": n}``. ``cursor`` is where the next sync starts: after
    each complete window it becomes min(window end, yesterday) minus ``lookback_days``, never earlier than where
    this sync started (the current day is never complete; the lookback covers the unknown timezone and rows that
    arrive late). A saved cursor after yesterday (a host clock that ran ahead) goes back to yesterday minus the
    lookback. ``window_days``, saved only while a walk is unfinished, sizes the first window of its resume,
    so that a resume does not start with a window that is bound to come back full.
    """
    entry = table_entry(state, method.table)
    first_day = settings.from_date
    last_complete_day = today - timedelta(days=1)
    if entry.get("cursor"):  # blank: none, as on a first sync
        first_day = saved(day, entry["cursor"], f"{method.table} cursor", "a date (YYYY-MM-DD)")
        restart = max(settings.from_date, last_complete_day - timedelta(days=settings.lookback_days))
        first_day = not_in_future(first_day, max(settings.from_date, last_complete_day), restart=restart,
                                  what=f"{method.table} cursor", log=log)
    window_days = saved_window_days(entry.get("window_days"), method.table)
    progress = TableProgress(method.table, log, every_rows=__CHECKPOINT_EVERY_ROWS, unit="windows")
    filter_warned = False

    def fetch(start: date, end: date, limit: int) -> list[dict]:
        params = {"fromDate": start.isoformat(), "toDate": end.isoformat(), "limit": limit}
        return api.fetch_rows(http, settings.base_url, method, params, typer)

    for window in api.walk_windows(fetch, first_day, today + timedelta(days=1), row_limit=__WINDOW_ROW_LIMIT,
                                   day_row_limit=__DAY_ROW_LIMIT, date_column=method.window_date, log=log,
                                   first_days=window_days, label=method.table):
        for row in window.rows:
            # Upsert: a response re-read by an overlap or the lookback replaces its earlier version.
            op.upsert(table=method.table, data=row)
        progress.page_done(len(window.rows), f"{window.first}..{window.last}")
        if not filter_warned and dated_after(window.rows, method.window_date, window.last + timedelta(days=2)):
            filter_warned = True
            log.warning(f"{method.table}: a window returned rows whose {method.window_date} is days after the window "
                        "(more than any time zone explains): the API seems to filter by blast date, and answers "
                        "that arrive later than lookback_days after their blast would be missed. Set lookback_days "
                        "to how long your surveys collect answers")
        complete_through = min(window.last, last_complete_day) - timedelta(days=settings.lookback_days)
        entry["cursor"] = max(first_day, complete_through).isoformat()
        entry["window_days"] = window.next_days
        if progress.checkpoint_due():
            # Checkpoint: every window up to this one is complete, so a resume starts from the new cursor.
            op.checkpoint(state)
            progress.checkpointed()
    entry.pop("window_days", None)  # the next walk starts with its whole (short) range
    # Checkpoint: the walk is complete.
    op.checkpoint(state)
    progress.finished(f"the next sync starts at {entry.get('cursor')}")


def dated_after(rows: list[dict], column: str | None, last_day: date) -> bool:
    """Whether a row's ``column`` (a UTC timestamp) falls after ``last_day``: evidence that the date filter is not
    on that column, since the contract leaves open whether it is the response date or the blast date."""
    after = (last_day + timedelta(days=1)).isoformat()
    return column is not None and any((row.get(column) or "") >= after for row in rows)


def saved_window_days(value: object, table: str) -> int | None:
    """The first window's length for a resumed walk. Only a size hint, so a value that is not a whole number of
    days of at least one (a hand edit; ``3.0`` and ``"3"`` are read as 3) is ignored with a warning."""
    if value is None:
        return None
    try:
        days = float(value) if isinstance(value, (str, float)) and not isinstance(value, bool) else value
        if isinstance(days, float) and days.is_integer():
            days = int(days)
    except ValueError:
        days = None
    if isinstance(days, int) and not isinstance(days, bool) and days >= 1:
        return days
    log.warning(f"saved {table} window_days {str(value)[:40]!r} is not a whole number of days: ignored (it only "
                "sizes the first window of a resumed walk)")
    return None


def sync_metric(http: Client, settings: Settings, state: dict, now: datetime) -> None:
    """One row per metric for today (UTC); each ``...Value`` covers the ``__METRIC_WINDOW_DAYS`` ending today.

    The window is always sent, so values are comparable from day to day, and a limit where the method would
    otherwise count only the latest 100 results; getSendQuota takes neither (it is the credit left now). A body
    that is not a number fails the sync.
    """
    progress = TableProgress("metric", log, unit="calls")
    window_to = now.date()
    window_from = window_to - timedelta(days=__METRIC_WINDOW_DAYS - 1)
    for name, method, windowed, limited in api.METRICS:
        params = {"fromDate": window_from.isoformat(), "toDate": window_to.isoformat()} if windowed else {}
        if limited:
            params["limit"] = __METRIC_RESULT_LIMIT
        value = api.fetch_metric(http, settings.base_url, method, params)
        # Upsert: keyed by metric and UTC day, so a second sync the same day replaces the value.
        op.upsert(table="metric", data={"metric": name, "captured_date": window_to.isoformat(),
                                        "captured_at": timestamps.utc_iso(now), "value": value, "api_method": method,
                                        "window_from": window_from.isoformat() if windowed else None,
                                        "window_to": window_to.isoformat() if windowed else None})
        progress.page_done(1, name)
    # Checkpoint: flush today's metric rows (the table keeps no state).
    op.checkpoint(state)
    progress.finished()


def configuration_form():
    """The setup form: every configuration key, and a setup test that reads the send quota."""
    form = ConfigurationForm()
    form.add_field(form_field.TextField(
        "api_key", "API key", form_field.TextField.password, required=True,
        description="Your Customer Thermometer API key (Settings > API). It is sent as the apiKey query parameter "
                    "and never logged.", placeholder="your API key"))
    form.add_field(form_field.TextField(
        "from_date", "Start date",
        description="The first sync reads responses and comments from this day (YYYY-MM-DD). Empty: 1970-01-01.",
        placeholder="1970-01-01"))
    form.add_field(form_field.TextField(
        "lookback_days", "Lookback (days)",
        description=f"Each sync re-reads this many complete days before the last one read, for late or changed "
                    f"responses and the unknown timezone. 0 to {__MAX_LOOKBACK_DAYS}; default 2.", placeholder="2"))
    form.add_field(form_field.TextField(
        "base_url", "API request URL",
        description=f"The API request URL shown in your account settings. Empty: {__DEFAULT_BASE_URL}.",
        placeholder=__DEFAULT_BASE_URL))
    form.add_test(label="Read the send quota with the API key", func=test_connection)
    return form


def test_connection(configuration: dict):
    """Setup test: getSendQuota, the cheapest authenticated call; every failure becomes advice, without the key."""
    error_texts = []

    def read_send_quota():
        settings = validate_configuration(configuration)
        http = new_client(settings, RetryPolicy(max_attempts=__SETUP_TEST_ATTEMPTS))
        try:
            api.fetch_metric(http, settings.base_url, "getSendQuota", {})
        except api.ErrorText as error:  # how this API refuses a key: plain text with HTTP 200
            error_texts.append(str(error))
        finally:
            http.close()

    failure = explain_failure(read_send_quota, service=__SERVICE, host_keys="'base_url'",
                              secrets=(str(configuration.get("api_key") or ""),))
    if failure is None and error_texts:
        failure = f"{__SERVICE} refused the request: {error_texts[0]}. {__AUTH_HINT}."
    return Test.failure(failure) if failure else Test.success()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    import json

    with open("configuration.json") as configuration_file:
        connector.debug(configuration=json.load(configuration_file))
