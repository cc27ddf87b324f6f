"""Customer Thermometer fake (contract: ../shared/sources/customer_thermometer.md).

- One endpoint, ``/api.php``; the operation is ``getMethod``, the key ``apiKey`` in the query string. A wrong or
  missing key gets a plain-text error with HTTP 200 (it echoes the key it was given, as a careless API might).
- ``getBlastResults`` (``<thermometer_blast_responses>``) and ``getComments`` (``<comments>``) filter on the day of
  ``response_date`` / ``date_submitted`` with ``fromDate``/``toDate`` (both inclusive, ``YYYY-MM-DD``) and return the
  **latest** ``limit`` rows, newest first; without ``limit`` only the latest 200: silent truncation.
- ``getRecipientLists`` and ``getThermometers``: every row, no parameters.
- The ``...Value`` metrics and ``getSendQuota`` answer a bare integer as plain text.
- An empty result is an empty root element (``empty_style="root"``) or an empty body (``"body"``).
- Responses are spread evenly from 2019-01-01 to 2026-06-30, with one busy day (``busy_day_rows`` rows on
  ``busy_day``) so that a window of a single day can be fuller than a small ``limit``. Large bodies are streamed.
"""

import bisect
import random
from datetime import date, timedelta
from xml.sax.saxutils import escape

from sandbox.fake import Fake
from sandbox.server import Reply, Request

API_KEY = "sandbox-customer-thermometer-key"
FIRST_DAY = date(2019, 1, 1)
LAST_DAY = date(2026, 6, 30)
BUSY_DAY = date(2024, 3, 15)
DEFAULT_LIMIT = 200  # what the API returns when no limit is sent
SEND_QUOTA = 4321
TEMPERATURES = {"1": "Gold", "2": "Green", "3": "Yellow", "4": "Red"}
LIST_METHODS = {  # getMethod -> (table, root, row, date field)
    "getBlastResults": ("responses", "thermometer_blast_responses", "thermometer_blast_response", "response_date"),
    "getComments": ("comments", "comments", "comment", "date_submitted"),
    "getRecipientLists": ("recipient_lists", "recipient_lists", "recipient_list", None),
    "getThermometers": ("thermometers", "thermometers", "thermometer", None),
}
METRIC_METHODS = ("getNumResponsesValue", "getResponseRateValue", "getTempRatingValue", "getNPSValue",
                  "getHappinessValue", "getSendQuota")
COMMENT_FIELDS = ("response_id", "date_submitted", "comment", "blast_id", "thermometer_id", "recipient",
                  "comment_hidden")


class CustomerThermometerFake(Fake):
    name = "customer_thermometer"

    def __init__(self, *, seed: int = 1, responses: int = 1_200, busy_day: date = BUSY_DAY, busy_day_rows: int = 260,
                 thermometers: int = 12, recipient_lists: int = 8, api_key: str = API_KEY,
                 empty_style: str = "root"):
        super().__init__(seed=seed)
        self.api_key = api_key
        self.empty_style = empty_style
        self.send_quota = SEND_QUOTA
        self.broken: dict[str, list] = {}  # getMethod -> [remaining times, reply] (control_break)
        self._dated_cache: dict[str, tuple[list[dict], list[str]]] = {}  # table -> (rows, their days)
        self._next = {"responses": 0, "thermometers": 0, "recipient_lists": 0}
        self.responses: list[dict] = []  # ascending response_date
        self.thermometers: list[dict] = []
        self.recipient_lists: list[dict] = []
        span_days = (LAST_DAY - FIRST_DAY).days
        self._add_responses([FIRST_DAY + timedelta(days=n * span_days // max(responses, 1)) for n in range(responses)]
                            + [busy_day] * busy_day_rows)
        self.insert("thermometers", thermometers)
        self.insert("recipient_lists", recipient_lists)

    # --- data ---------------------------------------------------------------------------------------------------

    def _add_responses(self, days: list[date]) -> list[str]:
        made = [self._new_response(day) for day in days]
        self.responses.extend(made)
        self.responses.sort(key=lambda r: (r["response_date"], r["response_id"]))
        self._dated_cache.clear()
        return [row["response_id"] for row in made]

    def _new_response(self, day: date) -> dict:
        self._next["responses"] += 1
        n = self._next["responses"]
        rng = random.Random(self.seed * 1_000_003 + n)
        temperature = str(rng.randint(1, 4))
        moment = f"{day.isoformat()} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        blast_day = day - timedelta(days=rng.randrange(3))
        return {
            "response_id": str(500_000 + n), "response_date": moment, "response": TEMPERATURES[temperature],
            "temperature_id": temperature, "recipient": f"person{n}@example.com", "first_name": f"First{n}",
            "last_name": f"Last{n}", "company": "Smith & Sons <Ltd>" if n % 7 == 0 else f"Company {n % 40}",
            "custom_1": f"ticket-{n}", "custom_2": None, "custom_3": "vip" if n % 5 == 0 else None,
            "comment": f"Comment number {n}: thanks & bye" if n % 5 < 2 else None,
            "blast_id": str(9_000 + n // 50), "thermometer_id": str(1 + n % 12),
            "response_bounced": "1" if n % 97 == 0 else "0", "comment_hidden": "1" if n % 11 == 0 else "0",
            "blast_date": f"{blast_day.isoformat()} 08:00:00",
        }

    def insert(self, table: str, count: int, day: date | None = None) -> list[str]:
        if table == "responses":
            return self._add_responses([day or LAST_DAY] * count)
        made = []
        for _ in range(count):
            self._next[table] += 1
            n = self._next[table]
            row = ({"id": str(n), "name": f"Thermometer {n}", "type": "Email Thermometer" if n % 2 else "Embedded"}
                   if table == "thermometers" else
                   {"id": str(700 + n), "name": f"List {n}", "recipient_count": str(10 * n)})
            getattr(self, table).append(row)
            made.append(row["id"])
        return made

    @property
    def comments(self) -> list[dict]:
        """One comment per response that has comment text, dated like the response."""
        return [{field: (row["response_date"] if field == "date_submitted" else row[field]) for field in COMMENT_FIELDS}
                for row in self.responses if row["comment"]]

    def _dated(self, table: str, date_field: str) -> tuple[list[dict], list[str]]:
        """Rows in ascending date order and their days, cached until the data changes (fast for 100,000+ rows)."""
        if table not in self._dated_cache:
            rows = getattr(self, table)
            self._dated_cache[table] = (rows, [row[date_field][:10] for row in rows])
        return self._dated_cache[table]

    # --- control (for tests that change the source between syncs) ----------------------------------------------

    def control_mutate(self, table: str, insert: int = 0, update: list | tuple = (), delete: list | tuple = (),
                       day: str | None = None):
        """Insert rows (responses on ``day``, default the last day), edit rows by id, delete rows by id."""
        key = "response_id" if table == "responses" else "id"
        rows = getattr(self, table)
        for row in rows:
            if row[key] in update:
                if table == "responses":
                    row["comment"], row["comment_hidden"] = "edited comment", "1"
                else:
                    row["name"] += " (edited)"
        rows[:] = [row for row in rows if row[key] not in set(delete)]
        self._dated_cache.clear()
        return {"inserted": self.insert(table, insert, date.fromisoformat(day) if day else None)}

    def control_break(self, method: str, times: int | None = 1, status: int = 200, body: str = "Error: broken",
                      after: int = 0):
        """Answer ``method`` with ``body`` and ``status`` for ``times`` calls (None: every call) after ``after``."""
        self.broken[method] = [after, times, Reply.text(body, status)]

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def configuration(self, base_url: str) -> dict:
        return {"api_key": self.api_key, "base_url": base_url + "/api.php", "from_date": "2018-01-01",
                "lookback_days": "2"}

    def handle(self, request: Request) -> Reply:
        if request.path.rstrip("/") != "/api.php":
            return Reply.text("<html><body>404 Not Found</body></html>", 404, "text/html")
        given = request.arg("apiKey") or ""
        if given != self.api_key:
            return Reply.text(f"Error: the API key '{given}' is not valid")
        method = request.arg("getMethod") or ""
        broken = self._broken_reply(method) if method in self.broken else None
        if broken is not None:
            return broken
        if method in LIST_METHODS:
            return self._list_reply(method, request)
        if method in METRIC_METHODS:
            return Reply.text(str(self._metric(method, request)))
        return Reply.text(f"Error: unknown or unsupported method '{method}'")

    def _broken_reply(self, method: str) -> Reply | None:
        """The broken reply, or None while calls are still to be let through."""
        plan = self.broken[method]
        after, times, reply = plan
        if after > 0:
            plan[0] -= 1
            return None
        if times is not None:
            plan[1] -= 1
            if plan[1] <= 0:
                del self.broken[method]
        return reply

    def _list_reply(self, method: str, request: Request) -> Reply:
        table, root, row_name, date_field = LIST_METHODS[method]
        rows = getattr(self, table)
        if date_field:
            rows = self._latest(self._in_window(*self._dated(table, date_field), request), request)
        if not rows:
            body = b"" if self.empty_style == "body" else f"<{root}/>".encode()
            return Reply(200, body, {"Content-Type": "text/xml"})
        return Reply(200, _xml(root, row_name, rows), {"Content-Type": "text/xml; charset=utf-8"})

    @staticmethod
    def _in_window(rows: list[dict], days: list[str], request: Request) -> list[dict]:
        low = bisect.bisect_left(days, request.arg("fromDate")) if request.arg("fromDate") else 0
        high = bisect.bisect_right(days, request.arg("toDate")) if request.arg("toDate") else len(rows)
        return rows[low:high]

    @staticmethod
    def _latest(rows: list[dict], request: Request) -> list[dict]:
        limit = int(request.arg("limit") or DEFAULT_LIMIT)
        return rows[::-1][:limit]

    def _metric(self, method: str, request: Request) -> int:
        if method == "getSendQuota":
            return self.send_quota
        rows = self._in_window(*self._dated("responses", "response_date"), request)
        if request.arg("temperatureID"):
            rows = [r for r in rows if r["temperature_id"] == request.arg("temperatureID")]
        rows = rows[::-1][: int(request.arg("limit") or (len(rows) if method[3:6] in ("Num", "NPS") else 100))]
        counts = {t: sum(1 for r in rows if r["temperature_id"] == t) for t in TEMPERATURES}
        total = max(len(rows), 1)
        return {
            "getNumResponsesValue": len(rows),
            "getResponseRateValue": 100 * len(rows) // (len(rows) + 40) if rows else 0,
            "getTempRatingValue": round(100 * (counts["1"] + counts["2"]) / total),
            "getNPSValue": round(100 * (counts["1"] - counts["3"] - counts["4"]) / total),
            "getHappinessValue": round(100 * counts["1"] / total),
        }[method]

    def malformed(self, request: Request) -> Reply:
        method = request.arg("getMethod") or ""
        if method in LIST_METHODS:
            _, root, row_name, _ = LIST_METHODS[method]
            return Reply.text(f"<{root}><{row_name}><id>1</id><name>cut", content_type="text/xml")
        return Reply.text("<html><body>Service temporarily unavailable</body></html>", content_type="text/html")

    def without_envelope(self, request: Request) -> Reply:
        return Reply.text("<response><status>ok</status></response>", content_type="text/xml")  # not its root

    def expired_token(self, request: Request) -> Reply:
        return Reply.text("Unauthorized", 401)


def _xml(root: str, row_name: str, rows: list[dict]):
    """The document as a stream of byte pieces, one per row (the server groups them into chunks)."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>'.encode()
    for row in rows:
        fields = "".join(f"<{k}/>" if v is None else f"<{k}>{escape(v)}</{k}>" for k, v in row.items())
        yield f"<{row_name}>{fields}</{row_name}>".encode()
    yield f"</{root}>".encode()


FAKE = CustomerThermometerFake
