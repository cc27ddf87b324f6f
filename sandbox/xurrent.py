"""Xurrent (formerly 4me) REST API v1 fake (contract: ../shared/sources/xurrent.md).

- Routes: ``GET /v1/organizations``, ``/v1/products``, ``/v1/projects`` (bare JSON arrays) and ``POST /token``
  (OAuth2 client credentials, form-encoded; answers ``{access_token, token_type, expires_in}``).
- Every API request needs ``Authorization: Bearer <personal access token or issued token>`` (else 401
  ``{"message":"Unauthorized"}``) and ``X-Xurrent-Account: <account>`` (else 403; the real status for a wrong
  account is unconfirmed). Issued tokens expire after ``token_lifetime_s`` of the fake's clock, or after
  ``token_max_requests`` API requests (an early expiry, as a revoked token would).
- Paging: ``per_page`` (default 20, capped at 100, < 1 is a 400 with the documented message); the ``Link`` header
  carries absolute URLs with an opaque ``search_after`` token that contains a comma, ``fields=`` with literal
  commas, ``rel="next"`` on every page but the last and ``rel="first"`` on every page but the first.
- ``sort`` (sortable fields only, else 400; default name ascending, or id descending for projects),
  ``fields=`` (documented fields only, else 400; ``id`` is always returned), filters ``updated_at`` /
  ``created_at`` / ``id`` with ``=``, ``>``, ``>=``, ``<``, ``<=`` and the ``>=A<B`` range forms (non-filterable
  fields get 400).
- A walk (one chain of ``search_after`` links) is capped at ``walk_cap`` records: the page that reaches the cap
  carries ``X-Pagination-Throttled: true`` and no next link.
- ``x-ratelimit-limit/remaining/reset`` on every API response; an exhausted quota, or more than ``burst_limit``
  requests in 2 s (off by default), answers 429 with ``retry-after`` seconds and the documented body.
- Timestamps carry various local offsets (``-05:00``, ``+05:30``, ``Z``...); ``disabled`` is left out for enabled
  organizations and products; decimals are strings; some references carry a cross-account ``account`` object.
- Rows are rendered on demand from their id (deterministic per seed), so 100,000+ rows cost little memory.

Knobs: ``counts`` (rows per table), ``rows_per_second`` (rows sharing an updated_at second), ``walk_cap``,
``quota``/``quota_window_s``, ``burst_limit``, ``token_lifetime_s``, ``token_max_requests``, ``auth_mode``
(``"token"`` or ``"oauth"``: which credentials ``configuration()`` holds), ``oauth_token`` / ``client_secret``
(the credentials it accepts) and ``clock`` (share a virtual clock with a test). ``control_mutate`` inserts,
updates, disables and deletes rows between syncs; ``refused`` counts 401 and 429 answers.
"""

import base64
import bisect
import json
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote

from sandbox.fake import Fake
from sandbox.server import Reply, Request

ACCOUNT = "widget"
PERSONAL_TOKEN = "sandbox-xurrent-personal-access-token"
CLIENT_ID = "sandbox-xurrent-client"
CLIENT_SECRET = "sandbox-xurrent-client-secret"
ANCHOR = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
DEFAULT_COUNTS = {"organizations": 230, "products": 170, "projects": 210}
OFFSETS_MIN = (-300, -360, 0, 120, 330, -210, 60)  # local offsets in minutes; 0 is written as Z
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
BURST_WINDOW_S = 2.0
CONTROL_PARAMS = {"per_page", "sort", "fields", "search_after", "search_before", "page", "state"}

FIELDS = {  # documented fields per resource (the defaults first)
    "organizations": {
        "default": ["sourceID", "name", "parent", "manager", "created_at", "updated_at"],
        "extra": ["business_unit", "business_unit_organization", "disabled", "end_user_privacy", "financialID",
                  "region", "remarks", "substitute", "custom_fields", "picture_uri", "source", "ui_extension",
                  "order_template", "addresses", "contacts"],
        "filterable": {"id", "source", "sourceID", "name", "disabled", "created_at", "updated_at", "financialID",
                       "parent"},
        "sortable": {"id", "sourceID", "name", "created_at", "updated_at"},
        "default_sort": "name",
    },
    "products": {
        "default": ["sourceID", "name", "category", "support_team", "service", "created_at", "updated_at"],
        "extra": ["brand", "model", "productID", "rule_set", "depreciation_method", "financial_owner", "supplier",
                  "rate", "useful_life", "salvage_value", "salvage_value_currency", "remarks", "picture_uri",
                  "ui_extension", "workflow_template", "workflow_manager", "recurrence", "custom_fields", "disabled",
                  "source"],
        "filterable": {"id", "source", "sourceID", "name", "disabled", "category", "rule_set", "support_team",
                       "service", "created_at", "updated_at"},
        "sortable": {"id", "sourceID", "name", "support_team", "service", "created_at", "updated_at"},
        "default_sort": "name",
    },
    "projects": {
        "default": ["sourceID", "subject", "manager", "category", "status", "completion_target_at", "completed_at",
                    "service", "created_at", "updated_at"],
        "extra": ["customer", "justification", "program", "risk_level", "cost_of_effort", "cost_of_purchases",
                  "total_cost", "value", "value_currency", "effort", "roi", "completion_reason",
                  "resolution_duration", "time_zone", "work_hours", "custom_fields", "ui_extension", "source"],
        "filterable": {"id", "source", "sourceID", "subject", "category", "status", "completion_target_at",
                       "completed_at", "service", "created_at", "updated_at"},
        "sortable": {"id", "sourceID", "subject", "category", "status", "completion_target_at", "completed_at",
                     "service", "created_at", "updated_at"},
        "default_sort": "-id",
    },
}
ID_BASE = {"organizations": 1_000, "products": 200_000, "projects": 500_000}
OTHER_ACCOUNT = {"id": "wdc", "name": "Widget Data Center"}


def timestamp(epoch: int, offset_min: int) -> str:
    """An API timestamp: seconds and a local offset (``Z`` for UTC)."""
    local = datetime.fromtimestamp(epoch, tz=timezone(timedelta(minutes=offset_min)))
    return local.strftime("%Y-%m-%dT%H:%M:%SZ") if offset_min == 0 else local.isoformat()


def _ref(rng: random.Random, base: int, label: str, spread: int, cross_account: bool = False) -> dict:
    number = rng.randrange(spread)
    ref = {"id": base + number, "name": f"{label} {number}"}
    if cross_account:
        ref["account"] = dict(OTHER_ACCOUNT)
    return ref


class XurrentFake(Fake):
    name = "xurrent"

    def __init__(self, *, seed: int = 1, counts: dict | None = None, rows_per_second: int = 3,
                 walk_cap: int = 100_000, quota: int = 3600, quota_window_s: int = 3600,
                 burst_limit: int | None = None, token_lifetime_s: int = 7200, token_max_requests: int | None = None,
                 auth_mode: str = "token", oauth_token: str = PERSONAL_TOKEN, client_secret: str = CLIENT_SECRET,
                 clock: Callable[[], float] = time.time):
        super().__init__(seed=seed)
        self.personal_token, self.client_secret = oauth_token, client_secret
        self.walk_cap = walk_cap
        self.quota, self.quota_window_s, self.burst_limit = quota, quota_window_s, burst_limit
        self.token_lifetime_s, self.token_max_requests = token_lifetime_s, token_max_requests
        self.auth_mode = auth_mode
        self.clock = clock
        self.rows_per_second = rows_per_second
        self.tokens: dict[str, list] = {}  # issued token -> [expires_at, requests left or None]
        self.tokens_issued = 0
        self.throttled_pages = 0
        self.refused = {401: 0, 429: 0}  # how often the fake refused a request, by status
        self._window_reset = 0.0
        self._remaining = quota
        self._recent: list[float] = []
        self.updated: dict[str, dict[int, int]] = {}  # table -> id -> updated_at epoch
        self.order: dict[str, list[tuple[int, int]]] = {}  # table -> sorted (updated_at, id)
        self.edits: dict[str, dict[int, dict]] = {}  # table -> id -> changed fields
        self._created: dict[str, dict[int, int]] = {}
        self._next_number: dict[str, int] = {}
        self._tick = ANCHOR  # the source's "now" for changes: always after every existing row
        for table in FIELDS:
            self.updated[table], self.order[table], self.edits[table], self._created[table] = {}, [], {}, {}
            self._next_number[table] = 0
            self.insert(table, {**DEFAULT_COUNTS, **(counts or {})}[table], seeded=True)

    # --- data ---------------------------------------------------------------------------------------------------

    def insert(self, table: str, count: int, seeded: bool = False) -> list[int]:
        """New rows. Seeded ones: ``rows_per_second`` rows share each second, one hour apart; later ones: now."""
        made = []
        keys = []
        for _ in range(count):
            number = self._next_number[table]
            self._next_number[table] += 1
            row_id = ID_BASE[table] + number
            created = ANCHOR + (number // self.rows_per_second) * 3600 if seeded else self._now_tick()
            self._created[table][row_id] = created
            self.updated[table][row_id] = created + (number % 2)  # some rows updated a second after creation
            keys.append((self.updated[table][row_id], row_id))
            made.append(row_id)
        if keys and self.order[table] and keys[0] < self.order[table][-1]:
            self.order[table] = sorted(self.order[table] + keys)
        else:
            self.order[table].extend(sorted(keys))
        return made

    def ids(self, table: str) -> set[int]:
        return set(self.updated[table])

    def record(self, table: str, row_id: int, fields: list[str] | None = None) -> dict:
        """The full record as the API renders it (all documented fields), or only ``fields`` plus id."""
        rng = random.Random(f"{self.seed}:{table}:{row_id}")
        number = row_id - ID_BASE[table]
        offset = OFFSETS_MIN[row_id % len(OFFSETS_MIN)]
        full = getattr(self, f"_{table}")(rng, number, offset)
        full.update(self.edits[table].get(row_id, {}))
        full["id"] = row_id
        full["created_at"] = timestamp(self._created[table][row_id], offset)
        full["updated_at"] = timestamp(self.updated[table][row_id], offset)
        if not full.get("disabled"):
            full.pop("disabled", None)  # left out, not false, for enabled records
        wanted = fields if fields is not None else FIELDS[table]["default"]
        return {"id": row_id, **{name: full.get(name) for name in wanted if name != "id" and name in full}}

    def _organizations(self, rng: random.Random, n: int, offset: int) -> dict:
        return {
            "sourceID": f"ORG-{n}" if n % 4 == 0 else None, "name": f"Widget Organization {n:05d}",
            "parent": None if n < 3 else {"id": ID_BASE["organizations"] + n // 3,
                                          "name": f"Widget Organization {n // 3:05d}"},
            "manager": _ref(rng, 7_000, "Person", 40, cross_account=n % 5 == 0),
            "business_unit": n % 6 == 0,
            "business_unit_organization": None if n % 6 else {"id": ID_BASE["organizations"], "name": "Widget Inc."},
            "disabled": n % 9 == 4, "end_user_privacy": n % 2 == 0, "financialID": f"FIN{n:04d}",
            "region": ["NA", "EU", "APAC"][n % 3], "remarks": f"Remarks for organization {n}" if n % 2 else None,
            "substitute": _ref(rng, 7_000, "Person", 40), "picture_uri": None, "source": "sandbox",
            "custom_fields": [{"id": "cost_center", "value": f"CC-{n % 11}"}] if n % 3 == 0 else None,
            "ui_extension": None, "order_template": None,
            "addresses": [], "contacts": [],
        }

    def _products(self, rng: random.Random, n: int, offset: int) -> dict:
        provider = _ref(rng, 1_000, "Widget Organization", 30, cross_account=n % 4 == 0)
        return {
            "sourceID": None, "name": f"Product {n:05d}", "category": ["software", "computer", "network"][n % 3],
            "support_team": _ref(rng, 9_000, "Team", 12),
            "service": {"id": 22 + n % 5, "name": f"Service {n % 5}", "provider": provider},
            "brand": ["Adobe", "Dell", "Cisco"][n % 3], "model": f"M{n}", "productID": f"P-{n:06d}",
            "rule_set": ["generic", "software", "network_device"][n % 3],
            "depreciation_method": ["straight_line", "double_declining_balance", "not_depreciated"][n % 3],
            "financial_owner": _ref(rng, 1_000, "Widget Organization", 30), "supplier": _ref(rng, 1_000, "Supplier", 9),
            "rate": f"{(n % 40) / 2:.1f}", "useful_life": 3 + n % 5,
            "salvage_value": f"{320000 + n * 7.25:.2f}" if n % 3 else "320000.0", "salvage_value_currency": "USD",
            "remarks": None, "picture_uri": None, "ui_extension": None,
            "workflow_template": None if n % 2 else {"id": 33, "subject": "Install software"},
            "workflow_manager": _ref(rng, 7_000, "Person", 40),
            "recurrence": None if n % 4 else {"frequency": "monthly", "interval": 1, "day_of_month": [1, 15]},
            "custom_fields": None if n % 2 else [{"id": "tier", "value": n % 3}],
            "disabled": n % 7 == 3, "source": None,
        }

    def _projects(self, rng: random.Random, n: int, offset: int) -> dict:
        completed = n % 4 == 0
        base = self._created["projects"][ID_BASE["projects"] + n]
        return {
            "sourceID": None, "subject": f"Project {n:05d}", "category": ["large", "medium", "small"][n % 3],
            "status": "completed" if completed else ["registered", "in_progress", "progress_halted"][n % 3],
            "manager": _ref(rng, 7_000, "Person", 40, cross_account=n % 3 == 0),
            "completion_target_at": timestamp(base + 90 * 86_400, offset),
            "completed_at": timestamp(base + 60 * 86_400, (offset + 60) % 600) if completed else None,
            "service": {"id": 41, "name": "Warehouse Management", "localized_name": "Warehouse Management",
                        "provider": {"id": 44, "name": "Widget Data Center, External IT",
                                     "account": dict(OTHER_ACCOUNT)}},
            "customer": _ref(rng, 1_000, "Widget Organization", 30, cross_account=n % 2 == 0),
            "justification": ["improvement", "compliance", "new_application"][n % 3],
            "program": None if n % 2 else {"id": 8, "name": "Modernisation"},
            "risk_level": {"id": 2 + n % 3, "name": ["Low", "Medium", "High"][n % 3]},
            "cost_of_effort": f"{1000 + n * 12.5:.2f}", "cost_of_purchases": "320000.0",
            "total_cost": f"{321000 + n * 12.5:.2f}", "value": "1500000.00", "value_currency": "USD",
            "effort": 40 + n, "roi": n % 300, "completion_reason": "complete" if completed else None,
            "resolution_duration": 60 * 24 * (n % 30) if completed else None,
            "time_zone": "Central Time (US & Canada)", "work_hours": {"id": 1, "name": "Mon-Fri 8:00-17:00"},
            "custom_fields": [{"id": "budget_code", "value": f"B{n}"}] if n % 2 else [],
            "ui_extension": None, "source": None,
        }

    # --- control (change the source between syncs) --------------------------------------------------------------

    def control_mutate(self, table: str, insert: int = 0, update: list | tuple = (), disable: list | tuple = (),
                       delete: list | tuple = ()):
        """Insert rows, update (rename) or disable rows (updated_at moves to a later second), delete rows."""
        for row_id in update:
            field = "subject" if table == "projects" else "name"
            current = self.record(table, row_id, [field])[field]
            self._touch(table, row_id, {field: f"{current} (edited)"})
        for row_id in disable:
            self._touch(table, row_id, {"disabled": True})
        for row_id in delete:  # e.g. an archived or trashed project leaving the list
            self.order[table].remove((self.updated[table].pop(row_id), row_id))
        return {"inserted": self.insert(table, insert)}

    def _now_tick(self) -> int:
        latest = max((order[-1][0] for order in self.order.values() if order), default=ANCHOR)
        self._tick = max(self._tick, latest) + 1
        return self._tick

    def _touch(self, table: str, row_id: int, changes: dict) -> None:
        tick = self._now_tick()
        self.order[table].remove((self.updated[table][row_id], row_id))
        self.updated[table][row_id] = tick
        bisect.insort(self.order[table], (tick, row_id))
        self.edits[table].setdefault(row_id, {}).update(changes)

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def configuration(self, base_url: str) -> dict:
        common = {"account_id": ACCOUNT, "base_url": f"{base_url}/v1", "max_records_per_page": "100"}
        if self.auth_mode == "oauth":
            return {**common, "client_id": CLIENT_ID, "client_secret": self.client_secret,
                    "token_url": f"{base_url}/token"}
        return {**common, "oauth_token": self.personal_token}

    def handle(self, request: Request) -> Reply:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        table = request.path.removeprefix("/v1/").strip("/")
        if not request.path.startswith("/v1/") or table not in FIELDS or request.method != "GET":
            return Reply.json({"message": "Not Found"}, 404)
        refused = self._authenticate(request) or self._rate_limited()
        if refused is not None:
            return refused
        try:
            reply = self._collection(request, table)
        except ValueError as problem:
            reply = Reply.json({"message": str(problem)}, 400)
        reply.headers.update(self._quota_headers())
        return reply

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply.json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != self.client_secret:
            return Reply.json({"error": "invalid_client"}, 401)
        self.tokens_issued += 1
        token = f"sandbox-xurrent-access-{self.seed}-{self.tokens_issued}"
        self.tokens[token] = [self.clock() + self.token_lifetime_s, self.token_max_requests]
        return Reply.json({"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s})

    def _authenticate(self, request: Request) -> Reply | None:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        issued = self.tokens.get(token)
        if token != self.personal_token:
            if issued is None or self.clock() >= issued[0] or issued[1] == 0:
                self.refused[401] += 1
                return Reply.json({"message": "Unauthorized"}, 401)
            if issued[1] is not None:
                issued[1] -= 1
        account = request.header("x-xurrent-account")
        if account != ACCOUNT:
            return Reply.json({"message": f"Forbidden: no access to account {account!r}"}, 403)
        return None

    def _rate_limited(self) -> Reply | None:
        now = self.clock()
        if now >= self._window_reset:
            self._window_reset, self._remaining = now + self.quota_window_s, self.quota
        self._recent = [t for t in self._recent if t > now - BURST_WINDOW_S] + [now]
        burst = self.burst_limit is not None and len(self._recent) > self.burst_limit
        if self._remaining <= 0 or burst:
            wait = 2 if burst else max(1, int(self._window_reset - now + 0.999))
            body = {"message": "Too Many Requests", "documentation_url": "https://developer.xurrent.com/v1/#rate-limiting"}
            self.refused[429] += 1
            return Reply.json(body, 429, {"Retry-After": str(wait), **self._quota_headers()})
        self._remaining -= 1
        return None

    def _quota_headers(self) -> dict:
        return {"X-RateLimit-Limit": str(self.quota), "X-RateLimit-Remaining": str(max(0, self._remaining)),
                "X-RateLimit-Reset": str(math.ceil(self._window_reset))}

    def _collection(self, request: Request, table: str) -> Reply:
        per_page = int(request.arg("per_page") or DEFAULT_PER_PAGE)
        if per_page < 1:
            raise ValueError("Parameter 'per_page' cannot be less than 1")
        per_page = min(per_page, MAX_PER_PAGE)
        fields = self._fields(table, request.arg("fields"))
        sort = self._sort(table, request.arg("sort") or FIELDS[table]["default_sort"])
        keys = self._sorted_keys(table, sort, self._filters(table, request))
        served, position = self._position(request.arg("search_after"), keys, sort)
        page = keys[position: position + per_page]
        throttled = served + len(page) >= self.walk_cap and position + len(page) < len(keys)
        if throttled:
            page = page[: max(0, self.walk_cap - served)]
            self.throttled_pages += 1
        body = [self.record(table, row_id, fields) for _, row_id in page]
        headers = {"X-Pagination-Per-Page": str(per_page), "X-Pagination-Total-Entries": str(len(keys))}
        links = []
        if position + len(page) < len(keys) and not throttled:
            token = f"{served + len(page)},{_encode(page[-1])}"
            links.append(f'<{self._link(request, table, token)}>; rel="next"')
        if request.arg("search_after"):
            links.append(f'<{self._link(request, table, None)}>; rel="first"')
        if links:
            headers["Link"] = ", ".join(links)
        if throttled:
            headers["X-Pagination-Throttled"] = "true"
        return Reply.json(body, headers=headers)

    def _fields(self, table: str, requested: str | None) -> list[str] | None:
        if requested is None:
            return None
        names = [name.strip() for name in requested.split(",") if name.strip()]
        unknown = [n for n in names if n != "id" and n not in FIELDS[table]["default"] + FIELDS[table]["extra"]]
        if unknown:
            raise ValueError(f"Unknown fields: {', '.join(unknown)}")
        return names

    def _sort(self, table: str, spec: str) -> tuple[str, bool]:
        names = [name.strip() for name in spec.split(",") if name.strip()]
        refused = [n for n in names if n.lstrip("-") not in FIELDS[table]["sortable"]]
        if refused:
            raise ValueError(f"Sorting not allowed on fields: {', '.join(refused)}")
        if len(names) > 1 and names[1].lstrip("-") != "id":
            raise ValueError("the sandbox fake sorts by one field (plus id)")
        return names[0].lstrip("-"), names[0].startswith("-")

    def _filters(self, table: str, request: Request) -> list[tuple[str, str, str]]:
        conditions = []
        for name, values in request.query.items():
            if name in CONTROL_PARAMS:
                continue
            if name not in FIELDS[table]["filterable"]:
                raise ValueError(f"Filtering not allowed on fields: {name}")
            if name not in ("updated_at", "created_at", "id"):
                raise ValueError(f"the sandbox fake does not implement the {name} filter")
            conditions.extend((name, op, value) for op, value in _conditions(values[0]))
        return conditions

    def _sorted_keys(self, table: str, sort: tuple[str, bool], filters: list) -> list[tuple]:
        """(sort value, id) pairs in walk order, filtered."""
        field, descending = sort
        if field == "updated_at" and not descending:
            keys = self._updated_range(table, filters)
            filters = [f for f in filters if f[0] != "updated_at"]
        else:
            keys = [(self._sort_value(table, row_id, field), row_id) for row_id in self.updated[table]]
            keys.sort(reverse=descending)
        if filters:
            keys = [key for key in keys if all(self._matches(table, key[1], f) for f in filters)]
        return keys

    def _updated_range(self, table: str, filters: list) -> list[tuple[int, int]]:
        order = self.order[table]
        low, high = 0, len(order)
        for name, op, value in filters:
            if name != "updated_at":
                continue
            epoch = _epoch(value)
            if op in (">=", ">"):
                low = max(low, bisect.bisect_left(order, (epoch + (op == ">"), 0)))
            elif op in ("<", "<="):
                high = min(high, bisect.bisect_left(order, (epoch + (op == "<="), 0)))
            else:
                low = max(low, bisect.bisect_left(order, (epoch, 0)))
                high = min(high, bisect.bisect_left(order, (epoch + 1, 0)))
        return order[low:high]

    def _sort_value(self, table: str, row_id: int, field: str):
        if field == "id":
            return row_id
        if field in ("updated_at", "created_at"):
            return (self.updated if field == "updated_at" else self._created)[table][row_id]
        value = self.record(table, row_id, [field])[field]
        return json.dumps(value, sort_keys=True) if isinstance(value, dict) else (value or "")

    def _matches(self, table: str, row_id: int, condition: tuple[str, str, str]) -> bool:
        name, op, value = condition
        actual = row_id if name == "id" else self._sort_value(table, row_id, name)
        wanted = int(value) if name == "id" else _epoch(value)
        return {"=": actual == wanted, ">": actual > wanted, ">=": actual >= wanted, "<": actual < wanted,
                "<=": actual <= wanted}[op]

    def _position(self, token: str | None, keys: list[tuple], sort: tuple[str, bool]) -> tuple[int, int]:
        """(rows this walk has served, index of the next row) from an opaque search_after token."""
        if not token:
            return 0, 0
        try:
            served, encoded = token.split(",", 1)
            last = tuple(json.loads(base64.urlsafe_b64decode(encoded.encode())))
            served = int(served)
        except ValueError:
            raise ValueError("Invalid search_after") from None
        if sort[1]:
            return served, len(keys) - bisect.bisect_left(list(reversed(keys)), last)
        return served, bisect.bisect_right(keys, last)

    def _link(self, request: Request, table: str, token: str | None) -> str:
        """An absolute link with the request's query (commas kept literal) and a new search_after."""
        pairs = [(name, values[0]) for name, values in sorted(request.query.items()) if name != "search_after"]
        if token is not None:
            pairs.append(("search_after", token))
        query = "&".join(f"{name}={quote(value, safe=',')}" for name, value in pairs)
        return f"http://{request.header('host')}/{self.name}/v1/{table}?{query}"

    def malformed(self, request: Request) -> Reply:
        return Reply.text('[{"id": 1001, "name": "Widget', content_type="application/json")

    def without_envelope(self, request: Request) -> Reply:
        return Reply.json({"data": [{"id": 1001}], "meta": {}})  # an object, not the documented bare array


def _conditions(text: str) -> list[tuple[str, str]]:
    """``>=A<B`` -> [(">=", A), ("<", B)]; ``A`` -> [("=", A)]."""
    found = []
    rest = text
    while rest:
        op = next((o for o in (">=", "<=", ">", "<") if rest.startswith(o)), "=" if not found else None)
        if op is None:
            raise ValueError(f"Invalid filter value {text!r}")
        rest = rest[len(op):] if op != "=" else rest
        cut = min([i for i in (rest.find("<", 1), rest.find(">", 1)) if i > 0] or [len(rest)])
        found.append((op, rest[:cut]))
        rest = rest[cut:]
    return found


def _epoch(value: str) -> int:
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ValueError(f"Invalid timestamp {value!r}; expected yyyy-mm-ddThh:mm:ssZ") from None


def _encode(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


FAKE = XurrentFake
