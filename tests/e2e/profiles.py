"""What the end-to-end fault suite needs to know about each connector: its routes, where to break it, how to
change its source between syncs, how to make a large source, and how far a crash may set it back.

Everything else is generic: the suite drives each connector through the SDK's local runner against its fake.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

PINDROP_TYPES = ("blacklist", "calls", "audit", "cases", "account_risk", "enrollment")


@dataclass(frozen=True)
class Profile:
    name: str
    routes: tuple[str, ...]  # path prefixes below the fake's mount point, one per endpoint
    middle: tuple[str, int]  # (route, nth request) for a persistent failure in the middle of a table
    malformed: tuple[str, int]  # (route, nth request) answered with a broken payload
    mutate: Callable  # (fake, state) -> None: inserts, updates and deletions the connector is built to see
    large: dict  # fake options for a source of at least 50,000 rows
    large_rows: int
    approx_requests: int  # requests of a whole large sync (at most), to pick a crash point inside it: 1/4 to 3/4 of it
    reread_bound: dict  # table -> rows a resumed sync may read again beyond what was not committed: one page/report
    full_scan_tables: tuple[str, ...] = ()  # read whole every sync: a resume reads them whole by design
    token_route: str | None = None  # where an expiring token shows up (client-credentials connectors)
    token_fake: dict = field(default_factory=dict)  # fake options for client-credentials mode
    child_patches: dict = field(default_factory=dict)  # module constants for a crash child (API pacing off)
    volatile: dict = field(default_factory=dict)  # table -> columns that hold the sync's own clock
    large_configuration: dict = field(default_factory=dict)  # configuration changes for the large source
    small: dict = field(default_factory=dict)  # fake options for the fault scenarios: several pages, few rows
    envelope: tuple[str, int] | None = None  # (route, nth) answered without its records key; default: malformed
    # routes where an answer in another shape may be "not ready yet" (Pindrop: a JSON, HTML or XML answer for a
    # report of a day inside the grace window): a sync that meets one can end well, and the next sync reads it
    pending_routes: tuple[str, ...] = ()
    adjust: Callable = lambda fake, configuration: configuration  # configuration changes for those scenarios


def _mutate_courier(fake, state):
    fake.control_mutate("brands", delete=["BRAND0003"], update=["BRAND0004"], insert=2)
    fake.control_mutate("lists", delete=["example.list.2"], insert=1)
    fake.control_mutate("messages", update=[fake.tables["messages"][0]["id"]], insert=3)
    fake.control_mutate("tenants", delete=["tenant-007"], update=["tenant-008"])


def _mutate_pindrop(fake, state):
    """Reports regenerated inside the lookback: rows added everywhere, rows edited where they have a real key.

    (An edited row of a report without a key column is a new row by design: its key derives from its content.)
    """
    for report_type in PINDROP_TYPES:
        day = state[report_type]["last_day_delivered"]  # inside the one-day lookback
        edited = [1, 3] if report_type in ("calls", "cases", "blacklist") else []
        fake.control_regenerate(report_type, day, extra=2, edited=edited)


def _mutate_customer_thermometer(fake, state):
    today = datetime.now(timezone.utc).date().isoformat()
    fake.control_mutate("responses", insert=5, day=today)
    fake.control_mutate("thermometers", delete=[fake.thermometers[0]["id"]], update=[fake.thermometers[1]["id"]])
    fake.control_mutate("recipient_lists", insert=1, delete=[fake.recipient_lists[0]["id"]])


def _mutate_aroflo(fake, state):
    fake.control_insert("users", 3)
    fake.control_update("users", ids=[fake.row("users", 5)["userid"]])
    fake.control_insert("suppliers", 2)
    fake.control_insert("payments", 4)


def _mutate_xurrent(fake, state):
    for table in ("organizations", "products", "projects"):
        first, second = sorted(fake.updated[table])[:2]
        fake.control_mutate(table, insert=3, update=[first], disable=[second] if table != "projects" else [])


PROFILES = {
    "courier": Profile(
        name="courier",
        routes=("/brands", "/audiences", "/audit-events", "/lists", "/notifications", "/tenants", "/messages"),
        middle=("/messages", 4), malformed=("/brands", 2), mutate=_mutate_courier,
        large={"counts": {"messages": 50_000}, "message_page_size": 100}, large_rows=50_205,
        approx_requests=515, reread_bound={"message": 100},  # one page
        large_configuration={"start_date": None},  # 50,000 messages reach back further than the fake's start date
        full_scan_tables=("brand", "audience", "audit_event", "list", "notification", "tenant")),
    "pindrop": Profile(
        name="pindrop",
        routes=("/oauth2/token",) + tuple(f"/v1/nightly_reports/{t}/" for t in PINDROP_TYPES),
        middle=("/v1/nightly_reports/cases/", 3), malformed=("/v1/nightly_reports/audit/", 2),
        mutate=_mutate_pindrop, large={"rows_per_report": 1_200}, large_rows=50_400, approx_requests=45,
        small={"rows_per_report": 40},
        adjust=lambda fake, configuration: {**configuration, "start_date": str(fake.current_day() - timedelta(days=3))},
        reread_bound={t: 1_200 for t in PINDROP_TYPES},  # one report: the lookback day
        token_route="/v1/nightly_reports/calls/", token_fake={},
        envelope=("/oauth2/token", 1),  # reports are bare CSV: the token answer is the only envelope
        pending_routes=tuple(f"/v1/nightly_reports/{t}/" for t in PINDROP_TYPES)),
    "customer_thermometer": Profile(
        name="customer_thermometer", routes=("/api.php",), middle=("/api.php", 6), malformed=("/api.php", 3),
        mutate=_mutate_customer_thermometer, large={"responses": 50_000}, large_rows=50_000, approx_requests=26,
        reread_bound={"blast_result": 10_000, "comment": 10_000}, full_scan_tables=("recipient_list", "thermometer"),
        volatile={"metric": ("captured_at",)}),
    "aroflo": Profile(
        name="aroflo", routes=("/",), middle=("/", 4), malformed=("/", 3), mutate=_mutate_aroflo,
        small={"counts": {"users": 620, "suppliers": 510, "payments": 1_030}},
        large={"counts": {"users": 20_000, "suppliers": 10_000, "payments": 20_500},
               "per_second": None, "per_minute": None, "per_day": None},
        large_rows=50_500, approx_requests=140,
        reread_bound={"users": 500, "suppliers": 500, "payments": 500},  # one page
        child_patches={"__RATE_LIMITS": [[1.0, 1_000_000]]}),
    "xurrent": Profile(
        name="xurrent", routes=("/v1/organizations", "/v1/products", "/v1/projects"),
        middle=("/v1/products", 2), malformed=("/v1/projects", 2), mutate=_mutate_xurrent,
        large={"counts": {"organizations": 17_000, "products": 17_000, "projects": 17_000}, "quota": 10**9,
               "rows_per_second": 50},
        large_rows=51_000, approx_requests=510,
        reread_bound={t: 100 for t in ("organizations", "products", "projects")},  # one page
        token_route="/v1/organizations", token_fake={"auth_mode": "oauth"},
        child_patches={"__BURST_MAX_REQUESTS": 1_000_000}),
}
