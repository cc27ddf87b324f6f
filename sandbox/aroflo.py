"""AroFlo zone API fake (contract: ../shared/sources/aroflo.md).

- One route, ``GET /?zone=users|suppliers|payments|lastupdate&where=..&order=..&page=..&pageSize=..``.
- Every request must carry the contract's HMAC-SHA512 signature: ``Authentication: HMAC <lower-case hex>`` over
  ``GET+[HostIP+]+Accept+Authorization+afdatetimeutc+<raw query string as received>``, an ``Authorization`` of
  ``uencoded=..&pencoded=..&orgEncoded=..`` and an ``afdatetimeutc`` within ``skew_window_s`` of the fake's wall
  clock. Anything else gets body status -99999 ("Authentication failed" or "Payload has expired").
- Errors are body statuses (HTTP ``error_http_status``, 200 by default, as the contract assumes).
- No ``where``: the zone's 30-day default filter and "No WHERE clause found, default filter applied.".
  ``where`` clauses ``and|field|op|value`` / ``or|...`` on the zone's documented fields (ops =, <, >, !=, IN,
  NOT IN; AND binds before OR; brackets are not supported and answer status 99, the fake's own code, as does an
  unknown field). ``order=field|asc|desc`` (repeatable); blanks sort first, as SQL NULLs.
- Paging: ``pageSize`` up to 500; ``maxpageresults`` is "500" (a string) on users and suppliers and 500 (an
  int) on payments, whatever pageSize was sent (``maxpageresults_echo=True`` echoes pageSize instead).
- Limits (``None`` turns one off): per second (429 "Too Many Requests Per Second (max x3)"), per minute
  (status 6), both on ``clock`` (by default shared.http_client's monotonic clock, which tests move forward when
  they patch out sleeping), and per day (status 7; the lastupdate zone is exempt). ``response_row_limit``: a page
  with more rows answers status 8 (size limit). ``control_trigger`` answers any status on the nth request.
- Data is generated from the row number (``counts`` per zone), so 100,000+ rows cost little memory; edits,
  inserts and deletions made by ``control_*`` are kept aside. Formats follow the vendor examples: users
  ``2023/05/23 23:28:15`` with blank (``""``/``" "``) last-updated values for users never updated, suppliers
  ``2018-10-16 13:30:19.58``, payments ``2023/12/18`` and money as ``"296.7600"``, booleans ``"false"``/``"TRUE"``.
"""

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections import deque
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from sandbox.fake import Fake
from sandbox.server import Reply, Request
from shared import http_client

UENCODED = "JCQ6XyRRUCAgCg=="
PENCODED = "cEVuYy9zYW5kYm94KzE="
ORGENCODED = "JSZaVy1QLEggCg=="
SECRET_KEY = "sandbox-aroflo-secret-key"
DEFAULT_COUNTS = {"users": 1234, "suppliers": 1111, "payments": 2345}
SPANS = {"users": timedelta(days=3 * 365), "suppliers": timedelta(days=5 * 365), "payments": timedelta(days=365)}
KEYS = {"users": "userid", "suppliers": "supplierid", "payments": "paymentid"}
PREFIXES = {"users": "USR", "suppliers": "SUP", "payments": "PAY"}  # of the ids: base64("USR0000001")
FIELDS = {  # documented WHERE fields and how to compare them
    "users": {"userid": "text", "givennames": "text", "surname": "text", "position": "text", "createdutc": "date",
              "createddatetimeutc": "datetime", "lastupdatedutc": "date", "lastupdateddatetimeutc": "datetime",
              "archived": "bool"},
    "suppliers": {"supplierid": "text", "suppliername": "text", "postable": "bool", "archived": "bool",
                  "datecreated": "date", "dateinserted": "date", "datetimeinserted": "datetime"},
    "payments": {"paymentid": "text", "datepaid": "date"},
    "lastupdate": {"zonename": "text", "zoneid": "text", "lastupdateutc": "datetime"},
}
DEFAULT_FILTER_FIELD = {"users": "createddatetimeutc", "suppliers": "datetimeinserted", "payments": "datepaid",
                        "lastupdate": "lastupdateutc"}
MAX_PAGE_SIZE = 500
OK_MESSAGE = "Login OK"
DEFAULT_FILTER_MESSAGE = "Login OK. No WHERE clause found, default filter applied."
GIVEN = ["Ava", "Noah", "Mia", "Liam", "Zoe", "Jack", "Ruby", "Oscar", "Isla", "Leo"]
SURNAMES = ["Smith", "Nguyen", "Brown", "Wilson", "Taylor", "Jones", "Kelly", "O'Brien", "Chen", "Singh"]
BOOLS = ["false", "TRUE", "true", "FALSE"]


class FakeError(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class AroFloFake(Fake):
    name = "aroflo"

    def __init__(self, *, seed: int = 1, counts: dict | None = None, anchor: datetime | None = None,
                 uencoded: str = UENCODED, pencoded: str = PENCODED, orgencoded: str = ORGENCODED,
                 secret_key: str = SECRET_KEY, skew_window_s: float = 300.0, per_second: int | None = 3,
                 per_minute: int | None = 120, per_day: int | None = 2000, response_row_limit: int | None = None,
                 maxpageresults_echo: bool = False, error_http_status: int = 200, clock=None, wall_clock=time.time):
        super().__init__(seed=seed)
        self.credentials = {"uencoded": uencoded, "pencoded": pencoded, "orgEncoded": orgencoded}
        self.secret_key = secret_key
        self.skew_window_s = skew_window_s
        self.limits = {"second": per_second, "minute": per_minute, "day": per_day}
        self.response_row_limit = response_row_limit
        self.maxpageresults_echo = maxpageresults_echo
        self.error_http_status = error_http_status
        self.clock = clock or (lambda: http_client.monotonic())
        self.wall_clock = wall_clock
        today = datetime.fromtimestamp(wall_clock(), timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        self.anchor = anchor or today  # every generated row is before it
        self.counts = {**DEFAULT_COUNTS, **(counts or {})}
        self._base_count = dict(self.counts)
        self._edited: dict[str, dict[int, dict]] = {zone: {} for zone in KEYS}  # row number -> row
        self._deleted: dict[str, set[int]] = {zone: set() for zone in KEYS}
        self.changes: list[dict] = []  # the lastupdate zone
        self.triggers: list[dict] = []
        self.daily_used = 0
        self._sent: deque[float] = deque()
        self._cache: dict = {}
        self._base_cache: dict = {}
        self._lock = threading.RLock()

    # --- data ---------------------------------------------------------------------------------------------------

    def _step_s(self, zone: str) -> float:
        return SPANS[zone].total_seconds() / (self._base_count[zone] + 1)

    def _created(self, zone: str, n: int) -> datetime:
        return self.anchor - SPANS[zone] + timedelta(seconds=int(n * self._step_s(zone)))

    def _user_updated(self, n: int) -> datetime | None:
        if n % 3:
            return None
        created = self._created("users", n)
        updated = created + timedelta(days=1 + n % 5, seconds=n % 61)
        return updated if updated < self.anchor else created + (self.anchor - created) // 2

    def _supplier_inserted(self, n: int) -> str:
        return self._created("suppliers", n).strftime("%Y-%m-%d %H:%M:%S") + f".{n * 37 % 100:02d}"

    def _payment_day(self, n: int) -> date:
        days = SPANS["payments"].days
        return self.anchor.date() - timedelta(days=days - n * days // (self._base_count["payments"] + 1))

    @staticmethod
    def make_id(prefix: str, n: int) -> str:
        """Opaque, base64 like AroFlo's ids, with '=' padding that must be percent-encoded in a WHERE."""
        return base64.b64encode(f"{prefix}{n:07d}".encode()).decode()

    def _base_row(self, zone: str, n: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + n * 7 + len(zone))
        return getattr(self, f"_new_{zone}")(n, rng)

    def _new_users(self, n: int, rng: random.Random) -> dict:
        created, updated = self._created("users", n), self._user_updated(n)
        given, surname = GIVEN[rng.randrange(10)], SURNAMES[rng.randrange(10)]
        return {"userid": self.make_id("USR", n), "username": f"{given.lower()}{n}", "givennames": given,
                "surname": surname, "email": f"{given.lower()}.{n}@example.com", "email2": "", "phone": "03 9259 5200",
                "mobile": f"0400 {n % 1000:03d} {n % 997:03d}", "fax": "", "accesstype": ["User", "Admin"][n % 2],
                "position": ["Plumber", "Electrician", "Office"][n % 3], "archived": BOOLS[n % 4 if n % 5 == 0 else 0],
                "org": {"orgid": self.make_id("ORG", n % 3), "orgname": f"Business Unit {n % 3}"},
                "createdutc": created.strftime("%Y/%m/%d"), "createddatetimeutc": created.strftime("%Y/%m/%d %H:%M:%S"),
                "lastupdatedutc": updated.strftime("%Y/%m/%d") if updated else "",
                "lastupdateddatetimeutc": updated.strftime("%Y/%m/%d %H:%M:%S") if updated else " "}

    def _new_suppliers(self, n: int, rng: random.Random) -> dict:
        created = self._created("suppliers", n)
        return {"supplierid": self.make_id("SUP", n), "suppliername": f"Supplier {n} Pty Ltd",
                "firstname": GIVEN[rng.randrange(10)], "surname": SURNAMES[rng.randrange(10)],
                "abn": f"{n:011d}", "shortname": f"S{n % 100000}", "phone": "03 9259 5200", "mobile": "", "fax": "",
                "email": f"accounts{n}@supplier.example.com", "website": f"supplier{n}.example.com",
                "suppliertype": "Supplier", "postable": BOOLS[n % 4], "archived": BOOLS[0 if n % 7 else 1],
                "datecreated": created.strftime("%Y/%m/%d"), "dateinserted": created.strftime("%Y/%m/%d"),
                "datetimeinserted": self._supplier_inserted(n), "terms": "30 Days", "termsnote": "",
                "transactionterms": {"transactiontermid": self.make_id("TRM", 1), "transactionterm": "30 Days"},
                "address": {"addressline1": f"{n} New St", "addressline2": "", "suburb": "Ringwood", "state": "VIC",
                            "postcode": "3134", "country": "Australia"},
                "mailingaddress": {"addressline1": "PO Box 1", "addressline2": "", "suburb": "Collingwood",
                                   "state": "VIC", "postcode": "3066", "country": "Australia"},
                "orgs": ([{"orgid": self.make_id("ORG", n % 3), "orgname": f"Business Unit {n % 3}",
                           "archived": "false"}] if n % 2 else {"org": {"orgid": self.make_id("ORG", 0)}}),
                "link": {"orgid": self.make_id("ORG", 0), "orgname": "Business Unit 0", "externalid": ""}}

    def _new_payments(self, n: int, rng: random.Random) -> dict:
        amount = f"{rng.randrange(100, 500_000) / 100:.4f}"
        processed = n % 3 == 0
        return {"paymentid": self.make_id("PAY", n), "amount": amount, "totalamount": amount,
                "surchargeamount": "0.0000", "surchargepercentage": "0.0000",
                "datepaid": self._payment_day(n).strftime("%Y/%m/%d"),
                "paymentmethodname": ["Direct Debit", "Credit Card", "Cash"][n % 3], "reference": f"INV{n:06d}",
                "notes": "", "chequenumber": "", "bankname": "", "bankaccountnumber": "", "bankbranch": "",
                "bankcode": "", "linkprocessed": "true" if processed else "false",
                "datelinkprocessed": self._payment_day(n).strftime("%Y/%m/%d 10:00:00") if processed else "",
                "linkedto": {"linkedtoid": self.make_id("INV", n), "linkedtotype": "invoice"},
                "receivedby": {"userid": self.make_id("USR", 1 + n % 10), "username": "Commander Shepard"}}

    def row(self, zone: str, n: int) -> dict:
        return self._edited[zone].get(n) or self._base_row(zone, n)

    def numbers(self, zone: str) -> list[int]:
        deleted = self._deleted[zone]
        return [n for n in range(1, self.counts[zone] + 1) if n not in deleted]

    def rows(self, zone: str) -> list[dict]:
        """Every live row of a zone, in row-number order (for tests comparing the warehouse with the source)."""
        return [self.row(zone, n) for n in self.numbers(zone)]

    def _number(self, zone: str, row_id: str) -> int:
        n = int(base64.b64decode(row_id).decode().removeprefix(PREFIXES[zone]))
        if not 1 <= n <= self.counts[zone]:
            raise KeyError(row_id)
        return n

    # --- control (tests change the source between syncs) ---------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), timezone.utc).replace(microsecond=0)

    def control_insert(self, zone: str, count: int = 1) -> dict:
        with self._lock:
            made = []
            for _ in range(count):
                self.counts[zone] += 1
                n = self.counts[zone]
                row = self._base_row(zone, n)
                self._stamp_new(zone, row)
                self._edited[zone][n] = row
                made.append(row[KEYS[zone]])
                self._log_change(zone, row[KEYS[zone]])
            self._cache.clear()
            return {"inserted": made}

    def _stamp_new(self, zone: str, row: dict) -> None:
        now = self._now()
        if zone == "users":
            row.update(createdutc=now.strftime("%Y/%m/%d"), createddatetimeutc=now.strftime("%Y/%m/%d %H:%M:%S"),
                       lastupdatedutc="", lastupdateddatetimeutc=" ")
        elif zone == "suppliers":
            row.update(datecreated=now.strftime("%Y/%m/%d"), dateinserted=now.strftime("%Y/%m/%d"),
                       datetimeinserted=now.strftime("%Y-%m-%d %H:%M:%S.00"))
        else:
            row.update(datepaid=now.strftime("%Y/%m/%d"))

    def control_update(self, zone: str, ids: list | tuple = (), **fields) -> dict:
        """Edit rows the way AroFlo users would: users get a new last-updated time; suppliers and payments
        change without any last-modified field (``fields`` overrides the default edit)."""
        with self._lock:
            now = self._now()
            for row_id in ids:
                n = self._number(zone, row_id)
                row = dict(self.row(zone, n))
                if zone == "users":
                    row.update(surname=row["surname"] + " (edited)", lastupdatedutc=now.strftime("%Y/%m/%d"),
                               lastupdateddatetimeutc=now.strftime("%Y/%m/%d %H:%M:%S"))
                elif zone == "suppliers":
                    row["suppliername"] += " (edited)"
                else:
                    row.update(notes="edited", amount="1.2300")
                row.update(fields)
                self._edited[zone][n] = row
                self._log_change(zone, row_id)
            self._cache.clear()
            return {"updated": list(ids)}

    def control_delete(self, zone: str, ids: list | tuple = ()) -> dict:
        with self._lock:
            for row_id in ids:
                self._deleted[zone].add(self._number(zone, row_id))
            self._cache.clear()
            return {"deleted": list(ids)}

    def control_trigger(self, status: str, zone: str | None = None, nth: int = 1, times: int | None = 1,
                        message: str | None = None) -> dict:
        """Answer body ``status`` on the nth matching request (counted from now) and the ``times - 1`` after it."""
        with self._lock:
            self.triggers.append({"status": str(status), "zone": zone, "nth": nth, "times": times,
                                  "message": message or f"injected status {status}", "seen": 0, "fired": 0})
            return {"triggers": len(self.triggers)}

    def control_reset_day(self) -> dict:
        self.daily_used = 0
        return {"daily_used": 0}

    def _log_change(self, zone: str, row_id: str) -> None:
        self.changes.append({"zoneid": row_id, "zonename": zone, "zoneidreference": KEYS[zone],
                             "lastupdateutc": self._now().strftime("%Y/%m/%d %H:%M:%S")})

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def configuration(self, base_url: str) -> dict:
        return {"uencoded": self.credentials["uencoded"], "pencoded": self.credentials["pencoded"],
                "orgencoded": self.credentials["orgEncoded"], "secret_key": self.secret_key, "base_url": base_url,
                "initial_sync_days": "0"}  # payments span a year: read them all, so the warehouse can equal the source

    def handle(self, request: Request) -> Reply:
        as_json = (request.header("accept") or "").lower() == "text/json"
        if request.path.strip("/"):  # the zone API has one URL; e.g. /v1/users does not exist
            return Reply.text("Not Found", 404)
        if request.method != "GET":
            return self._reply({"status": "5", "statusmessage": "Invalid request method"}, as_json)
        with self._lock:
            try:
                self._verify_signature(request)
                zone = (request.arg("zone") or "").lower()
                if not zone:
                    raise FakeError("6", "No Zone Specified")
                self._check_limits(zone)
                self._fire_trigger(zone)
                body = self._zone_body(request, zone)
            except FakeError as error:
                return self._reply({"status": error.status, "statusmessage": error.message}, as_json,
                                   http_status=self.error_http_status)
        return self._reply(body, as_json, headers=self._limit_headers())

    def _verify_signature(self, request: Request) -> None:
        authentication = request.header("authentication") or ""
        authorization = request.header("authorization") or ""
        stamp = request.header("afdatetimeutc") or ""
        if not (authentication and authorization and stamp):
            raise FakeError("-99999", "Login Failed - Invalid Request string")
        given = {key: values[0] for key, values in parse_qs(authorization, keep_blank_values=True).items()}
        if given != self.credentials:
            raise FakeError("-99999", "Authentication failed: invalid API setup")
        try:
            sent_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise FakeError("-99999", "Authentication failed: invalid afdatetimeutc") from None
        if abs(self.wall_clock() - sent_at.timestamp()) > self.skew_window_s:
            raise FakeError("-99999", "Payload has expired")
        host_ip = request.header("hostip")
        parts = ["GET", *([host_ip] if host_ip else []), "", request.header("accept") or "", authorization, stamp,
                 request.raw_query]
        expected = hmac.new(self.secret_key.encode(), "+".join(parts).encode(), hashlib.sha512).hexdigest()
        if not hmac.compare_digest(authentication, f"HMAC {expected}"):
            raise FakeError("-99999", "Authentication failed: signature mismatch")

    def _check_limits(self, zone: str) -> None:
        now = self.clock()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        if self.limits["second"] and sum(1 for t in self._sent if t > now - 1) >= self.limits["second"]:
            raise FakeError("429", f"Too Many Requests Per Second (max x{self.limits['second']})")
        if self.limits["minute"] and len(self._sent) >= self.limits["minute"]:
            raise FakeError("6", f"Rate limit exceeded: {self.limits['minute']} requests per minute")
        if zone != "lastupdate" and self.limits["day"] and self.daily_used >= self.limits["day"]:
            raise FakeError("7", f"Daily limit of {self.limits['day']} requests reached")
        self._sent.append(now)
        if zone != "lastupdate":
            self.daily_used += 1

    def _fire_trigger(self, zone: str) -> None:
        for trigger in self.triggers:
            if trigger["zone"] not in (None, zone):
                continue
            trigger["seen"] += 1
            if trigger["seen"] >= trigger["nth"] and (trigger["times"] is None or trigger["fired"] < trigger["times"]):
                trigger["fired"] += 1
                raise FakeError(trigger["status"], trigger["message"])

    def _limit_headers(self) -> dict:
        headers = {}
        if self.limits["minute"]:
            headers.update({"X-RateLimit-Limit": str(self.limits["minute"]),
                            "X-RateLimit-Remaining": str(max(0, self.limits["minute"] - len(self._sent)))})
        if self.limits["day"]:
            headers.update({"X-RateLimit-Daily-Limit": str(self.limits["day"]),
                            "X-RateLimit-Daily-Remaining": str(max(0, self.limits["day"] - self.daily_used))})
        return headers

    # --- queries ------------------------------------------------------------------------------------------------

    def _zone_body(self, request: Request, zone: str) -> dict:
        if zone not in FIELDS:
            raise FakeError("99", f"Unknown zone {zone!r}")
        wheres = tuple(request.query.get("where", []))
        orders = tuple(request.query.get("order", []))
        message = OK_MESSAGE if wheres else DEFAULT_FILTER_MESSAGE
        size = _int(request.arg("pageSize"), MAX_PAGE_SIZE)
        size = MAX_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
        page = max(1, _int(request.arg("page"), 1))
        matches = self._matches(zone, wheres, orders)
        chosen = matches[(page - 1) * size: page * size]
        if self.response_row_limit is not None and len(chosen) > self.response_row_limit:
            raise FakeError("8", "Response size exceeds the 3.5MB limit; use a smaller pageSize")
        rows = [self._row_of(zone, ref) for ref in chosen]
        maximum = size if self.maxpageresults_echo else MAX_PAGE_SIZE
        return {"status": "0", "statusmessage": message,
                "zoneresponse": {zone: rows, "pagenumber": str(page),
                                 "maxpageresults": maximum if zone == "payments" else str(maximum),
                                 "currentpageresults": len(rows), "queryresponsetimes": {zone: 3},
                                 "generatedisplayresponsetime": 1}}

    def _row_of(self, zone: str, ref):
        return self.changes[ref] if zone == "lastupdate" else self.row(zone, ref)

    def _matches(self, zone: str, wheres: tuple, orders: tuple) -> list:
        """Row references (row numbers, or change positions) that pass the filter, in the requested order."""
        key = (zone, wheres, orders, self.wall_clock() // 3600 if not wheres else None)
        if key in self._cache:
            return self._cache[key]
        refs = list(range(len(self.changes))) if zone == "lastupdate" else self.numbers(zone)
        if wheres:
            groups = _parse_where(zone, wheres)
        else:
            since = datetime.fromtimestamp(self.wall_clock(), timezone.utc) - timedelta(days=30)
            field_name = DEFAULT_FILTER_FIELD[zone]
            groups = [[(field_name, ">", [_comparable(FIELDS[zone][field_name], f"{since:%Y-%m-%d %H:%M:%S}")])]]
        refs = [ref for ref in refs if any(all(self._test(zone, ref, *term) for term in group) for group in groups)]
        for field_name, descending in reversed(_parse_order(zone, orders)):
            refs.sort(key=lambda ref, f=field_name: _sortable(self._value(zone, ref, f)), reverse=descending)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = refs
        return refs

    def _value(self, zone: str, ref, field_name: str):
        """A comparable value: epoch seconds, a date ordinal, a bool, casefolded text, or None for a blank."""
        if zone != "lastupdate" and ref not in self._edited[zone]:
            return self._base_values(zone, field_name)[ref]
        return _comparable(FIELDS[zone][field_name], self._row_of(zone, ref).get(field_name))

    def _base_values(self, zone: str, field_name: str) -> list:
        """The comparable values of one field for every generated row, computed once (generated rows never
        change: edits and inserts live in ``_edited``)."""
        values = self._base_cache.get((zone, field_name))
        if values is None:
            fast = _FAST_VALUES.get((zone, field_name)) or (
                (lambda fake, n: _comparable("text", fake.make_id(PREFIXES[zone], n)))
                if field_name == KEYS[zone] else None)
            kind = FIELDS[zone][field_name]
            values = [None] + [fast(self, n) if fast else _comparable(kind, self._base_row(zone, n).get(field_name))
                               for n in range(1, self._base_count[zone] + 1)]
            self._base_cache[(zone, field_name)] = values
        return values

    def _test(self, zone: str, ref, field_name: str, operator: str, wanted: list) -> bool:
        value = self._value(zone, ref, field_name)
        if operator in ("IN", "NOT IN"):
            return (value in wanted) == (operator == "IN")
        if value is None or wanted[0] is None:
            return False
        return {"=": value == wanted[0], "!=": value != wanted[0], "<": value < wanted[0],
                ">": value > wanted[0]}[operator]

    # --- replies ------------------------------------------------------------------------------------------------

    def _reply(self, body: dict, as_json: bool, *, http_status: int = 200, headers: dict | None = None) -> Reply:
        headers = headers or {}
        if not as_json:
            return Reply.text(_xml(body), http_status, content_type="text/xml; charset=utf-8", headers=headers)
        rows = body.get("zoneresponse", {})
        if sum(len(v) for v in rows.values() if isinstance(v, list)) <= 50:
            return Reply.json(body, http_status, {"Content-Type": "text/json; charset=utf-8", **headers})
        return Reply(http_status, _json_pieces(body), {"Content-Type": "text/json; charset=utf-8", **headers})

    def malformed(self, request: Request) -> Reply:
        return Reply.text('{"status": "0", "statusmessage": "Login OK", "zoneresponse": {"users": [{"userid": ',
                          content_type="text/json")

    def without_envelope(self, request: Request) -> Reply:
        zone = (request.arg("zone") or "users").lower()
        body = {"status": "0", "statusmessage": "Login OK",
                "zoneresponse": {"pagenumber": "1", "maxpageresults": "500", "currentpageresults": 3,
                                 f"{zone}_renamed": {"count": 3}}}  # the rows' key is gone, its count is not
        return Reply.json(body, 200, {"Content-Type": "text/json; charset=utf-8"})

    def expired_token(self, request: Request) -> Reply:
        return Reply.json({"status": "-99999", "statusmessage": "Payload has expired"}, self.error_http_status,
                          {"Content-Type": "text/json; charset=utf-8"})


_FAST_VALUES = {  # the cursor fields of generated rows, without building the whole row
    ("users", "createddatetimeutc"): lambda fake, n: fake._created("users", n).timestamp(),
    ("users", "lastupdateddatetimeutc"): lambda fake, n: (lambda u: u.timestamp() if u else None)(
        fake._user_updated(n)),
    ("suppliers", "datetimeinserted"): lambda fake, n: _comparable("datetime", fake._supplier_inserted(n)),
    ("payments", "datepaid"): lambda fake, n: fake._payment_day(n).toordinal(),
}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _comparable(kind: str, raw):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if kind == "text":
        return text.casefold()
    if kind == "bool":
        return text.lower() in ("true", "1", "yes")
    moment = _parse_literal(text)
    return moment.date().toordinal() if kind == "date" else moment.timestamp()


def _parse_literal(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f",
                "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise FakeError("99", f"Invalid date {text!r} in WHERE")


def _sortable(value):
    return (0, 0) if value is None else (1, value)


def _parse_where(zone: str, wheres: tuple) -> list[list[tuple]]:
    """``and|f|op|v`` clauses as OR-groups of AND-terms (AND binds first, as in SQL)."""
    groups: list[list[tuple]] = [[]]
    for clause in wheres:
        parts = clause.split("|")
        if len(parts) != 4 or "(" in parts or ")" in parts:
            raise FakeError("99", f"Unsupported WHERE clause {clause!r}")
        conjunction, field_name, operator, value = parts[0].lower(), parts[1].lower(), parts[2].upper(), parts[3]
        if conjunction not in ("and", "or") or operator not in ("=", "<", ">", "!=", "IN", "NOT IN"):
            raise FakeError("99", f"Invalid WHERE clause {clause!r}")
        if field_name not in FIELDS[zone]:
            raise FakeError("99", f"Invalid WHERE field {field_name!r} for zone {zone}")
        if conjunction == "or" and groups[-1]:
            groups.append([])
        values = value.split("*") if "IN" in operator else [value]
        groups[-1].append((field_name, operator, [_comparable(FIELDS[zone][field_name], v) for v in values]))
    return groups


def _parse_order(zone: str, orders: tuple) -> list[tuple[str, bool]]:
    parsed = []
    for clause in orders:
        field_name, _, direction = clause.lower().partition("|")
        if field_name not in FIELDS[zone] or direction not in ("asc", "desc", ""):
            raise FakeError("99", f"Invalid ORDER {clause!r} for zone {zone}")
        parsed.append((field_name, direction == "desc"))
    return parsed


def _json_pieces(body: dict):
    """A large body as pieces of bytes: rows are encoded one by one, never as one huge string."""
    response = body["zoneresponse"]
    zone = next(key for key, value in response.items() if isinstance(value, list))
    head = {key: value for key, value in body.items() if key != "zoneresponse"}
    yield json.dumps(head)[:-1].encode() + b', "zoneresponse": {"' + zone.encode() + b'": ['
    for index, row in enumerate(response[zone]):
        yield (b", " if index else b"") + json.dumps(row).encode()
    rest = {key: value for key, value in response.items() if key != zone}
    yield b"], " + json.dumps(rest)[1:].encode() + b"}"


def _xml(body: dict) -> str:
    """The default (XML) answer when Accept is not text/json: root ``imsapi``."""
    def element(name: str, value) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(element(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return f"<{name}>" + "".join(element(name.rstrip("s"), v) for v in value) + f"</{name}>"
        return f"<{name}>{escape(str(value))}</{name}>"
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?>" + element("imsapi", body)


FAKE = AroFloFake
