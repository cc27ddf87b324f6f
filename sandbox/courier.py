"""Courier fake (contract: ../shared/sources/courier.md).

- ``Authorization: Bearer <api_key>``; a missing or wrong key gets 403 ``authorization_error``.
- Envelopes: A ``{paging: {cursor, more}, results}`` for messages, notifications, brands, audit-events;
  B ``{items, paging}`` for audiences and lists (lists can answer with ``results`` instead: ``lists_key``);
  C ``{items, has_more, cursor, next_url, url, type}`` for tenants, with ``limit`` (default 20, max 100);
  ``cursor`` and ``next_url`` only while ``has_more`` is true.
- ``missing_envelope``: routes whose pages after the first omit their records key (a changed API).
- Cursors are opaque and contain ``+``, ``/`` and ``=``: a client that does not URL-encode them gets a 400.
- ``/messages`` is newest first, 10 per page, filtered by ``enqueued_after`` (ms epoch, exclusive).
- Notifications mix V1 and V2 shapes; audit ``target`` is a string in some rows and an object in others.
"""

import random
from datetime import datetime, timezone
from urllib.parse import urlencode

from sandbox.fake import Fake
from sandbox.server import Reply, Request

API_KEY = "sandbox-courier-key"
ANCHOR_MS = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp() * 1000)
DAY_MS = 86_400_000
DEFAULT_COUNTS = {"brands": 25, "audiences": 25, "audit-events": 45, "lists": 30, "messages": 95,
                  "notifications": 35, "tenants": 45}
ROUTES = {  # path -> (envelope, page size)
    "brands": ("A", 20), "audit-events": ("A", 20), "notifications": ("A", 20), "messages": ("A", 10),
    "audiences": ("B", 20), "lists": ("B", 20), "tenants": ("C", None),
}
STATUSES = ["DELIVERED", "SENT", "OPENED", "CLICKED", "UNDELIVERABLE", "ENQUEUED"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class CourierFake(Fake):
    name = "courier"

    def __init__(self, *, seed: int = 1, counts: dict | None = None, api_key: str = API_KEY,
                 lists_key: str = "items", message_page_size: int = 10):
        super().__init__(seed=seed)
        self.api_key = api_key
        self.lists_key = lists_key
        self.message_page_size = message_page_size
        self.missing_envelope: set[str] = set()  # routes whose next page omits its record key
        counts = {**DEFAULT_COUNTS, **(counts or {})}
        self.tables: dict[str, list[dict]] = {route: [] for route in ROUTES}
        self._next_number = {route: 0 for route in ROUTES}
        for route, count in counts.items():
            self.insert(route, count)

    # --- data ---------------------------------------------------------------------------------------------------

    def insert(self, route: str, count: int) -> list[str]:
        made = []
        for _ in range(count):
            self._next_number[route] += 1
            row = getattr(self, "_new_" + route.replace("-", "_"))(self._next_number[route])
            self.tables[route].append(row)
            made.append(row["auditEventId" if route == "audit-events" else "id"])
        if route == "messages":
            self.tables[route].sort(key=lambda m: m["enqueued"], reverse=True)
        return made

    def _new_brands(self, n: int) -> dict:
        created = ANCHOR_MS - (400 - n) * DAY_MS
        return {"id": f"BRAND{n:04d}", "name": f"Brand {n}", "created": created, "updated": created + 3_600_000,
                "published": created + 7_200_000 if n % 3 else None, "version": _iso(created),
                "settings": {"colors": {"primary": "#9D3789", "secondary": f"#{n:06x}"},
                             "email": {"footer": {"content": f"footer {n}"}}},
                "snippets": {"items": [{"format": "handlebars", "name": "greeting", "value": "Hi"}] if n % 2 else []}}

    def _new_audiences(self, n: int) -> dict:
        created = ANCHOR_MS - (300 - n) * DAY_MS
        filter_shape = ({"filters": [{"operator": "EQ", "path": "title", "value": f"role{n}"}], "operator": "AND"}
                        if n % 2 else {"operator": "EQ", "path": "title", "value": f"role{n}"})
        return {"id": f"audience-{n}", "name": f"Audience {n}", "description": f"Audience number {n}",
                "created_at": _iso(created), "updated_at": _iso(created + 60_000), "operator": "AND",
                "filter": filter_shape}

    def _new_audit_events(self, n: int) -> dict:
        at = ANCHOR_MS - n * 3_600_000  # newest first by id order
        target = f"user-{n}" if n % 2 else {"id": f"user-{n}", "email": f"user{n}@example.com"}
        return {"auditEventId": f"AE{n:05d}", "actor": {"id": f"actor-{n % 4}", "email": f"actor{n % 4}@example.com"},
                "target": target, "source": "courier.studio", "timestamp": _iso(at), "type": "user:role-changed"}

    def _new_lists(self, n: int) -> dict:
        created = ANCHOR_MS - (200 - n) * DAY_MS
        row = {"id": f"example.list.{n}", "name": f"List {n}", "created": _iso(created),
               "updated": _iso(created + 120_000)}
        if n % 5 == 0:
            row.pop("updated")
        return row

    def _new_messages(self, n: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + n)
        enqueued = ANCHOR_MS - n * 1_800_000
        status = STATUSES[rng.randrange(len(STATUSES))]
        row = {"id": f"1-msg{n:06d}-{rng.randrange(16**8):08x}", "status": status, "enqueued": enqueued,
               "recipient": f"recipient-{n % 17}", "event": f"event-{n % 5}", "notification": f"NOTIF{n % 7}",
               "recipientId": f"anon_{n}"}
        if status != "ENQUEUED":
            row["sent"] = enqueued + 1_000
        if status in ("DELIVERED", "OPENED", "CLICKED"):
            row["delivered"] = enqueued + 4_000
        if status == "UNDELIVERABLE":
            row["error"], row["reason"] = "mailbox full", "BOUNCED"
        return row

    def _new_notifications(self, n: int) -> dict:
        created = ANCHOR_MS - (100 - n) * DAY_MS
        if n % 2:
            return {"id": f"NOTIFV1{n:04d}", "title": f"Template {n}", "created_at": created,
                    "updated_at": created + 5_000, "topic_id": f"TOPIC{n}", "event_ids": [f"event-{n}"],
                    "routing": {"method": "single", "channels": ["email"]},
                    "tags": {"data": [{"id": f"tag-{n}", "name": "Important"}]}, "note": f"note {n}"}
        return {"id": f"nt_{n:04d}", "name": f"Elemental {n}", "state": "PUBLISHED" if n % 4 else "DRAFT",
                "tags": ["alpha", f"t{n}"], "created": created, "creator": "designer",
                "updated": created + 9_000, "updater": "editor", "subscription_topic_id": f"sub-{n}",
                "topic_id": f"TOPIC{n}"}

    def _new_tenants(self, n: int) -> dict:
        return {"id": f"tenant-{n:03d}", "name": f"Tenant {n}", "parent_tenant_id": "tenant-001" if n > 1 else None,
                "brand_id": f"BRAND{(n % 5) + 1:04d}",
                "default_preferences": {"items": [{"id": f"pref-{n}", "status": "OPTED_OUT",
                                                   "has_custom_routing": True, "custom_routing": ["email"]}]},
                "properties": {"tier": "gold" if n % 2 else "silver"}, "user_profile": {}}

    # --- control (for tests that change the source between syncs) ----------------------------------------------

    def control_mutate(self, route: str, insert: int = 0, update: list | tuple = (), delete: list | tuple = ()):
        key = "auditEventId" if route == "audit-events" else "id"
        rows = self.tables[route]
        for row in rows:
            if row[key] in update:
                self._touch(route, row)
        self.tables[route] = [row for row in rows if row[key] not in set(delete)]
        return {"inserted": self.insert(route, insert)}

    def _touch(self, route: str, row: dict) -> None:
        if route == "messages":
            row["status"], row["opened"] = "OPENED", row["enqueued"] + 60_000
        elif "name" in row:
            row["name"] += " (edited)"
        elif "title" in row:
            row["title"] += " (edited)"
        else:
            row["type"] = "user:edited"

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def configuration(self, base_url: str) -> dict:
        return {"api_key": self.api_key, "base_url": base_url, "start_date": "2025-01-01",
                "messages_lookback_days": "3"}

    def handle(self, request: Request) -> Reply:
        if request.header("authorization") != f"Bearer {self.api_key}":
            return Reply.json({"message": "Invalid or missing authentication credentials",
                               "type": "authorization_error"}, 403)
        route = request.path.strip("/")
        if request.method != "GET" or route not in ROUTES:
            return Reply.json({"message": "Not found", "type": "invalid_request_error"}, 404)
        rows = self.tables[route]
        if route == "messages" and request.arg("enqueued_after"):
            after = int(request.arg("enqueued_after"))
            rows = [m for m in rows if m["enqueued"] > after]
        try:
            offset = self._offset(route, request.arg("cursor"))
        except ValueError:
            return Reply.json({"message": "Invalid cursor", "type": "invalid_request_error"}, 400)
        envelope, size = ROUTES[route]
        if route == "messages":
            size = self.message_page_size
        if route == "tenants":
            size = min(100, int(request.arg("limit") or 20))
        page, more = rows[offset: offset + size], offset + size < len(rows)
        cursor = self._cursor(route, offset + size) if more else None
        return Reply.json(self._envelope(route, envelope, page, more, cursor, request))

    def _envelope(self, route: str, envelope: str, page: list, more: bool, cursor: str | None, request) -> dict:
        if envelope == "C":
            query = urlencode({"limit": request.arg("limit") or 20, "cursor": cursor}) if cursor else ""
            key, body = "items", {"items": page, "has_more": more, "url": "/tenants", "type": "list"}
            if cursor:  # present only when has_more is true
                body.update(cursor=cursor, next_url=f"/tenants?{query}")
        else:
            key = {"A": "results", "B": self.lists_key if route == "lists" else "items"}[envelope]
            body = {"paging": {"cursor": cursor, "more": more}, key: page}
        if route in self.missing_envelope and request.arg("cursor"):
            body.pop(key)
        return body

    @staticmethod
    def _cursor(route: str, offset: int) -> str:
        return f"{route}:{offset}:a+b/c="

    @staticmethod
    def _offset(route: str, cursor: str | None) -> int:
        if not cursor:
            return 0
        name, offset, salt = cursor.split(":")
        if name != route or salt != "a+b/c=":
            raise ValueError(cursor)
        return int(offset)

    def malformed(self, request: Request) -> Reply:
        broken = '{"paging": {"more": true, "cursor": "x"}, "results": [{"id": '
        return Reply.text(broken, content_type="application/json")

    def without_envelope(self, request: Request) -> Reply:
        return Reply.json({"paging": {"more": False, "cursor": None}})  # no results/items (nor tenants' has_more)

    def expired_token(self, request: Request) -> Reply:
        return Reply.json({"message": "Unauthorized", "type": "authentication_error"}, 401)
FAKE = CourierFake
