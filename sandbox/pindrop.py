"""Pindrop nightly-reports fake (contract: ../shared/sources/pindrop.md).

- ``POST /oauth2/token``: form body ``grant_type=client_credentials``, ``client_id``, ``client_secret`` (not HTTP
  Basic); answers ``{"access_token", "token_type", "expires_in"}``. Wrong credentials get 401 ``invalid_client``.
  ``token_lifetime_s`` makes tokens short-lived; ``send_expires_in=False`` leaves ``expires_in`` out.
- ``GET /v1/nightly_reports/{report_type}/{YYYY-MM-DD}`` with ``Authorization: Bearer <token>``: a CSV report,
  header first, streamed as a generator (a million rows cost no memory). A missing, unknown or expired token
  gets 401. Days within ``not_ready_days`` of ``today`` (and later days) get 404 "not generated yet"; so do the
  (type, day) pairs in ``missing`` (a report that never existed). The pairs in ``empty`` answer 200 with the header
  row only (a report not filled yet). ``today`` is fixed or, by default, the UTC date.
- Rows are deterministic per (seed, type, day, row number). ``blacklist`` is keyed by ``phone_number``; ``calls``,
  ``cases`` and ``enrollment`` have an ``id`` (every 7th enrollment row has an empty one); ``audit`` and
  ``account_risk`` have no ``id`` column at all, and every 10th ``account_risk`` row repeats the row before it
  exactly. Free-text columns hold quotes, commas and newlines; some values carry padding spaces; ``calls``,
  ``audit`` and ``enrollment`` start with a UTF-8 BOM.
- ``rows_per_report``: an int for every report, or a dict per type (default: 8 to 14 rows, varying by day).
- Controls (``control_<action>``, also ``POST /_sandbox/pindrop/<action>``): ``set_today``, ``set_missing``,
  ``set_empty``, ``set_rows``, ``expire_tokens``, ``regenerate`` (a report with extra rows, edited rows, or in
  reverse order).
"""

import secrets
import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs

from sandbox.fake import Fake
from sandbox.server import Reply, Request

CLIENT_ID = "sandbox-pindrop-client"
CLIENT_SECRET = "sandbox-pindrop-secret"
REPORT_TYPES = ("blacklist", "calls", "audit", "cases", "account_risk", "enrollment")
COLUMNS = {
    "blacklist": ("phone_number", "reason", "added_by", "added_at", "notes"),
    "calls": ("id", "call_start", "ani", "dnis", "risk_score", "duration_s", "authenticated", "notes"),
    "audit": ("timestamp", "user", "action", "details"),
    "cases": ("id", "case_number", "status", "opened_at", "description"),
    "account_risk": ("account_id", "risk_level", "risk_score", "evaluated_at"),
    "enrollment": ("id", "account_id", "enrolled_at", "channel", "voiceprint_status"),
}
WITH_BOM = frozenset({"calls", "audit", "enrollment"})
REPORT_PREFIX = "/v1/nightly_reports/"
BOM = "\ufeff".encode()
REASONS = ("fraud, confirmed", "spoofed ANI", 'flagged as "robocall"', "  manual review  ")
STATUSES = ("open", "closed", "escalated")


def _mix(*numbers: int) -> int:
    """A cheap deterministic hash of integers (no random.Random per row: a million rows must stream fast)."""
    value = 0x9E3779B9
    for number in numbers:
        value = ((value ^ number) * 0x01000193 + 0x7F4A7C15) & 0xFFFFFFFF
    return value


def _csv_line(values) -> bytes:
    """One CSV line; fields with a quote, comma or line break are quoted, quotes doubled."""
    fields = []
    for value in values:
        text = "" if value is None else str(value)
        if any(c in text for c in '",\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        fields.append(text)
    return (",".join(fields) + "\r\n").encode()


class PindropFake(Fake):
    name = "pindrop"

    def __init__(self, *, seed: int = 1, rows_per_report: int | dict | None = None, today: date | str | None = None,
                 not_ready_days: int = 1, missing: set | None = None, empty: set | None = None,
                 token_lifetime_s: float = 3600,
                 send_expires_in: bool = True, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        super().__init__(seed=seed)
        self.rows_per_report = rows_per_report
        self.today = date.fromisoformat(today) if isinstance(today, str) else today
        self.not_ready_days = not_ready_days
        self.missing = {(kind, str(day)) for kind, day in (missing or set())}
        self.empty = {(kind, str(day)) for kind, day in (empty or set())}
        self.token_lifetime_s = token_lifetime_s
        self.send_expires_in = send_expires_in
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.tokens_issued = 0
        self.changes: dict[tuple[str, str], dict] = {}  # (type, day) -> {"extra", "edited", "reversed"}

    # --- data ---------------------------------------------------------------------------------------------------

    def current_day(self) -> date:
        return self.today or datetime.now(timezone.utc).date()

    def is_ready(self, report_type: str, day: date) -> bool:
        age_days = (self.current_day() - day).days
        return age_days >= self.not_ready_days and (report_type, day.isoformat()) not in self.missing

    def row_count(self, report_type: str, day: date) -> int:
        if (report_type, day.isoformat()) in self.empty:
            return 0
        extra = self.changes.get((report_type, day.isoformat()), {}).get("extra", 0)
        if isinstance(self.rows_per_report, int):
            return self.rows_per_report + extra
        if isinstance(self.rows_per_report, dict) and report_type in self.rows_per_report:
            return self.rows_per_report[report_type] + extra
        return 8 + (day.toordinal() + REPORT_TYPES.index(report_type)) % 7 + extra

    def rows(self, report_type: str, day: date):
        """The report's data rows (tuples in COLUMNS order), in the order they are served."""
        change = self.changes.get((report_type, day.isoformat()), {})
        numbers = range(self.row_count(report_type, day))
        if change.get("reversed"):
            numbers = reversed(numbers)
        make = getattr(self, "_" + report_type)
        for n in numbers:
            row = make(day, n)
            if n in change.get("edited", ()):
                row = row[:-1] + (f"{row[-1] or ''} (edited)",)
            yield row

    def _stamp(self, day: date, n: int) -> str:
        return f"{day.isoformat()}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}Z"

    def _blacklist(self, day: date, n: int) -> tuple:
        h = _mix(self.seed, 1, day.toordinal(), n)
        phone = f"+1{day.toordinal() % 900 + 100}{n:07d}"
        if n % 5 == 2:
            phone = f"  {phone} "  # padding the connector trims
        return (phone, REASONS[h % len(REASONS)], f"agent{h % 9}", self._stamp(day, n),
                "" if n % 4 == 0 else f"caller said \"stop\",\nthen hung up ({h % 1000})")

    def _calls(self, day: date, n: int) -> tuple:
        h = _mix(self.seed, 2, day.toordinal(), n)
        return (f"call-{day.strftime('%Y%m%d')}-{n:07d}", self._stamp(day, n), f"+1555{h % 10_000_000:07d}",
                f"+1800{n % 1000:07d}", f"{h % 10_000 / 100:.2f}", str(h % 3600), "true" if h % 2 else "false",
                "" if n % 3 else f"note {h % 97}, with a comma")

    def _audit(self, day: date, n: int) -> tuple:
        h = _mix(self.seed, 3, day.toordinal(), n)
        return (self._stamp(day, n), f"user{h % 13}@example.com", ("login", "export", "update")[h % 3],
                f'changed "threshold" from {h % 50} to {h % 50 + 1}, ok' if n % 2 else f"plain {n}")

    def _cases(self, day: date, n: int) -> tuple:
        h = _mix(self.seed, 4, day.toordinal(), n)
        return (f"case-{day.strftime('%Y%m%d')}-{n:06d}", f"C{h % 100_000:05d}", STATUSES[h % 3],
                self._stamp(day, n), f"Line one of case {n}\nLine two, \"quoted\"")

    def _account_risk(self, day: date, n: int) -> tuple:
        base = n - 1 if n % 10 == 9 else n  # every 10th row repeats the row before it, byte for byte
        h = _mix(self.seed, 5, day.toordinal(), base)
        return (f"acct-{h % 5000:05d}", ("low", "medium", "high")[h % 3], f"{h % 1000 / 10:.1f}",
                self._stamp(day, base))

    def _enrollment(self, day: date, n: int) -> tuple:
        h = _mix(self.seed, 6, day.toordinal(), n)
        identifier = "" if n % 7 == 3 else f"enr-{day.strftime('%Y%m%d')}-{n:06d}"
        return (identifier, f"acct-{h % 5000:05d}", self._stamp(day, n), ("phone", "web")[h % 2],
                ("enrolled", " pending ", "failed")[h % 3])

    def report_body(self, report_type: str, day: date):
        """The CSV body as a generator of byte pieces (one per line), BOM first for some types."""
        if report_type in WITH_BOM:
            yield BOM
        yield _csv_line(COLUMNS[report_type])
        for row in self.rows(report_type, day):
            yield _csv_line(row)

    # --- control (change the source between syncs) --------------------------------------------------------------

    def control_set_today(self, day: str, not_ready_days: int | None = None):
        self.today = date.fromisoformat(day)
        if not_ready_days is not None:
            self.not_ready_days = not_ready_days
        return {"today": day}

    def control_set_missing(self, report_type: str, day: str, missing: bool = True):
        (self.missing.add if missing else self.missing.discard)((report_type, day))
        return {"missing": sorted(self.missing)}

    def control_set_empty(self, report_type: str, day: str, empty: bool = True):
        """Serve that report as a header without rows (``empty``), or with its rows again."""
        (self.empty.add if empty else self.empty.discard)((report_type, day))
        return {"empty": sorted(self.empty)}

    def control_set_rows(self, rows_per_report: int | dict | None = None):
        """Rows per report from now on: an int for every report, a dict per type, or None for the default."""
        self.rows_per_report = rows_per_report
        return {"rows_per_report": rows_per_report}

    def control_expire_tokens(self):
        """Make every issued token expired, as if its lifetime had passed."""
        self.tokens = dict.fromkeys(self.tokens, 0.0)
        return {"expired": len(self.tokens)}

    def control_regenerate(self, report_type: str, day: str, extra: int = 0, edited: list | tuple = (),
                           reverse: bool = False):
        """Regenerate one report: ``extra`` rows appended, rows ``edited`` (by number), rows served in reverse."""
        self.changes[(report_type, day)] = {"extra": extra, "edited": set(edited), "reversed": reverse}
        return {"rows": self.row_count(report_type, date.fromisoformat(day))}

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def configuration(self, base_url: str) -> dict:
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "token_url": f"{base_url}/oauth2/token", "base_url": base_url,
                "start_date": (self.current_day() - timedelta(days=7)).isoformat()}

    def handle(self, request: Request) -> Reply:
        if request.path == "/oauth2/token":
            return self._token(request)
        if request.method != "GET" or not request.path.startswith(REPORT_PREFIX):
            return Reply.json({"error": "not_found", "message": "No such endpoint"}, 404)
        if not self._token_ok(request):
            return self.expired_token(request)
        parts = request.path[len(REPORT_PREFIX):].strip("/").split("/")
        try:
            report_type, day = parts[0], date.fromisoformat(parts[1])
        except (IndexError, ValueError):
            return Reply.json({"error": "not_found", "message": "No data found for URL"}, 404)
        if len(parts) != 2 or report_type not in REPORT_TYPES or not self.is_ready(report_type, day):
            return Reply.json({"error": "not_found", "message": "No data found for URL"}, 404)
        return Reply(200, self.report_body(report_type, day), {"Content-Type": "text/csv; charset=utf-8"})

    def _token(self, request: Request) -> Reply:
        form = _form(request)
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            return Reply.json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply.json({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        self.tokens_issued += 1
        token = f"pdtok-{self.tokens_issued}-{secrets.token_hex(8)}"
        self.tokens[token] = time.time() + self.token_lifetime_s
        body = {"access_token": token, "token_type": "Bearer"}
        if self.send_expires_in:
            body["expires_in"] = self.token_lifetime_s
        return Reply.json(body)

    def _token_ok(self, request: Request) -> bool:
        header = request.header("authorization") or ""
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        return token in self.tokens and time.time() < self.tokens[token]

    def malformed(self, request: Request) -> Reply:
        if request.path == "/oauth2/token":
            return Reply.text('{"access_token": ', content_type="application/json")
        return Reply.text('id,status,notes\r\nrow-1,open,fine\r\nrow-2,open,a,broken,row\r\n', content_type="text/csv")

    def without_envelope(self, request: Request) -> Reply:
        """Reports are bare CSV; the token answer is the one envelope: here without its access_token."""
        return Reply.json({"token_type": "Bearer", "expires_in": 3600})

    def expired_token(self, request: Request) -> Reply:
        return Reply.json({"error": "invalid_token", "message": "The access token expired"}, 401)


def _form(request: Request) -> dict:
    return {key: values[0] for key, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}


FAKE = PindropFake
