"""HTTP transport for every connector: one Session per sync, timeouts, retries, rate limiting and redaction.

Rules (each has a unit test):
- connect and read timeouts on every request, and on each whole answer that is not streamed a grace time past
  which it must have kept a minimum average rate (a read timeout only bounds the wait between two reads: a
  trickling server would hold a sync for ever), with a size cap;
- redirects: within the request's origin as requests does; to another origin only a GET's, only to https, with
  no header but Accept, Accept-Encoding and User-Agent (no token, signature, account header), and not when its
  address holds a secret; a POST's (its form holds the client secret) or one to plain http fails at once,
  naming where it pointed;
- retry 408, 429 and 5xx (not 501/505, which no retry changes), connection errors, timeouts and bodies cut off
  mid-read, with exponential backoff and full jitter; ``Retry-After`` (seconds or HTTP date) and
  ``retry-after-ms`` are honoured, capped;
- any other 4xx fails at once; a 401 refreshes the auth once when it can (``auth.invalidate()``) and retries;
- an optional client-side rate limiter runs before every attempt;
- every message (log or exception) goes through the sync's Redactor, and exceptions are raised outside the
  ``except`` block so no chained exception can carry an unredacted URL.

Public: Client, RetryPolicy, RateLimiter, HttpError, TransportError, is_retryable_status, parse_retry_after,
EnvironmentCachingSession, GuardedRedirectsSession, origin, body_pieces
"""

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

# urllib3 reached through requests: it ships with requests, and a direct import would make the SDK's dependency
# check (pipreqs) ask for urllib3 in every connector's requirements.txt.
from requests.packages.urllib3 import exceptions as urllib3_exceptions
from requests.packages.urllib3.response import HTTPResponse as Urllib3Response

from shared.redaction import Redactor

_NEVER_BETTER_5XX = frozenset({501, 505})  # "not implemented", "HTTP version not supported": the same every time
AUTH_FAILURE_STATUSES = frozenset({401, 403})
BODY_EXCERPT_CHARS = 300
# An answer read whole (not streamed) gets this many read timeouts; past them it must have come at this average
# rate at least (a trickle of a byte now and then would hold a sync for ever; a 60 MB Customer Thermometer day on
# a slow link keeps going), and it must stay under this size: far beyond any page of these APIs, short of a
# worker out of memory. An error body is read up to ERROR_BODY_BYTES (its excerpt), under the same deadline.
BODY_DEADLINE_READ_TIMEOUTS = 10
BODY_MIN_BYTES_PER_S = 8 * 1024
BODY_MAX_BYTES = 512 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024
_BODY_READ_BYTES = 64 * 1024


# Reached through the module so tests can patch them: ``monkeypatch.setattr(http_client, "sleep", ...)``; a test
# that patches out sleeping also moves these clocks forward, so rate limits and token expiry see the time pass.
# Each looks ``time`` up when called, so a test that patches ``time.sleep`` or ``time.time`` reaches them too.
def sleep(seconds: float) -> None:
    time.sleep(seconds)


def monotonic() -> float:
    return time.monotonic()


def wall_clock() -> float:
    return time.time()


jitter = random.uniform

_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3_exceptions.ProtocolError,
    urllib3_exceptions.ReadTimeoutError,
    urllib3_exceptions.DecodeError,  # these three reach us unwrapped from a body read piece by piece (body_pieces)
    urllib3_exceptions.SSLError,
)
_UNSENDABLE = (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
               requests.exceptions.InvalidSchema)
_UNSET = object()


def _unsendable(exc: ValueError) -> bool:
    """A request that cannot be sent as built; http.client's own header check raises a plain ValueError."""
    return isinstance(exc, _UNSENDABLE) or str(exc).startswith(("Invalid header value", "Invalid header name"))


class HttpError(Exception):
    """A response that is not retried (or ran out of retries). ``status`` is the HTTP status code."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class TransportError(Exception):
    """The network failed (connection, timeout, truncated body). ``retries_spent``: the request was already
    attempted as often as the policy allows, so an outer retry (``call_with_retries``) must not multiply it."""

    def __init__(self, message: str, retries_spent: bool = False):
        super().__init__(message)
        self.retries_spent = retries_spent


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    retry_after_cap_s: float = 300.0

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
        return jitter(0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))


class RateLimiter:
    """Client-side limit over sliding windows, e.g. ``RateLimiter.per(second=3, minute=120)``."""

    def __init__(self, limits: list[tuple[float, int]], clock: Callable[[], float] | None = None):
        self._limits = [(float(window_s), int(count)) for window_s, count in limits]
        self._longest_s = max(window_s for window_s, _ in self._limits)
        self._clock = clock or (lambda: monotonic())
        self._sent: deque[float] = deque()

    @classmethod
    def per(cls, second: float | None = None, minute: int | None = None,
            clock: Callable[[], float] | None = None) -> "RateLimiter":
        limits = []
        if second:
            # A whole number: that many a second; otherwise (0.5, 1.5) one request per 1/second seconds, the rate
            # asked for, not int(1.5) = 1.
            limits.append((1.0, int(second)) if second >= 1 and float(second).is_integer() else (1.0 / second, 1))
        if minute:
            limits.append((60.0, minute))
        return cls(limits, clock)

    def _wait_s(self, now: float) -> float:
        wait = 0.0
        for window_s, count in self._limits:
            in_window = [t for t in self._sent if t > now - window_s]
            if len(in_window) >= count:
                wait = max(wait, in_window[-count] + window_s - now)
        return wait

    def acquire(self) -> None:
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self._longest_s:
                self._sent.popleft()
            wait = self._wait_s(now)
            if wait <= 0.001:  # what is left after a sleep of exactly the wait is float rounding
                self._sent.append(now)
                return
            sleep(wait)
            if self._clock() - now < wait / 2:  # sleep patched out (a test's), or a frozen clock: no busy loop
                self._sent.append(now)
                return


def is_retryable_status(status: int) -> bool:
    """408, 429 and every 5xx that a later try can change (a gateway's 520 too, not 501/505)."""
    return status in (408, 429) or (500 <= status <= 599 and status not in _NEVER_BETTER_5XX)


def parse_retry_after(response: requests.Response, cap_s: float,
                      now: Callable[[], float] | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), capped; None if absent."""
    millis = response.headers.get("retry-after-ms")
    value = response.headers.get("Retry-After")
    try:
        if millis is not None:
            return min(cap_s, max(0.0, float(millis) / 1000))
        if value is None:
            return None
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return min(cap_s, float(value))
        return min(cap_s, max(0.0, parsedate_to_datetime(value).timestamp() - (now or wall_clock)()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class EnvironmentCachingSession(requests.Session):
    """A Session that reads the proxy and CA-bundle environment once per origin instead of on every request.

    ``requests`` scans every environment variable (proxies, ``no_proxy``) on each request, about 0.1 ms: a
    tenth of a local request, and noticeable on walks of 10,000 small pages. The result depends only on the
    origin and the arguments, so it is kept for the Session's life (one sync); the environment is not expected
    to change during a sync. Anything unusual (unhashable arguments) takes the uncached path.
    """

    def __init__(self):
        super().__init__()
        self._environment_settings: dict = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        try:
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert,
                   self.trust_env, tuple(sorted(self.proxies.items())), self.stream, self.verify, self.cert)
            hash(key)
        except (TypeError, ValueError):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings = self._environment_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, dict(proxies or {}), stream, verify, cert)
            self._environment_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


class GuardedRedirectsSession(EnvironmentCachingSession):
    """Follows redirects without carrying credentials away from the origin (scheme, host, port) they belong to.

    requests follows any redirect and drops only ``Authorization`` on the way to another host: a 307 on a token
    POST would resend the client secret there, AroFlo's signature headers and Xurrent's account header would go
    along, and an https -> http hop would send them in clear and have its answer taken as data. Here a redirect
    to another origin is followed only for a GET, only to https, and with every header but ``_KEPT_ACROSS_ORIGINS``
    dropped (a report served from a storage host still works), unless its address holds one of the sync's
    secrets (``holds_secret``, set by ``Client``: a key in the query that the Location echoes). Any other comes
    back as the 3xx itself, and ``Client`` fails on it naming where it pointed. No documented endpoint of these
    APIs redirects.
    """

    holds_secret: Callable[[str], bool] = staticmethod(lambda _text: False)

    def get_redirect_target(self, resp):
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        try:
            to = origin(urljoin(resp.url, target))
        except ValueError:  # a port out of range, say: not followed, and Client's message says so
            return None
        if to == origin(resp.url):
            return target
        if to[0] == "https" and resp.request.method == "GET" and not self.holds_secret(target):
            return target
        return None

    def rebuild_auth(self, prepared_request, response):
        if origin(prepared_request.url) == origin(response.request.url):
            super().rebuild_auth(prepared_request, response)
            return
        for name in list(prepared_request.headers):
            if name.lower() not in _KEPT_ACROSS_ORIGINS:
                del prepared_request.headers[name]  # no credentials re-applied either (requests would add .netrc's)


# Proxy-Authorization: requests has just set it for the new URL's proxy (rebuild_proxies), from the environment.
_KEPT_ACROSS_ORIGINS = frozenset({"accept", "accept-encoding", "user-agent", "connection", "proxy-authorization"})


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, lower case, the port filled in for http and https: where a request goes."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


class Client:
    """One ``requests.Session`` with the retry, auth, rate-limit and redaction rules of a sync.

    ``with_auth`` returns a client that shares the session, limiter and redactor but signs with another auth,
    e.g. an OAuth2 auth whose token requests go through the plain client.
    """

    def __init__(
        self,
        *,
        auth: requests.auth.AuthBase | None = None,
        timeout_s: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy = RetryPolicy(),
        limiter: RateLimiter | None = None,
        redactor: Redactor | None = None,
        headers: dict | None = None,
        auth_failure_hint: str = "",
        on_response: Callable[[requests.Response], None] | None = None,
        log=None,
        session: requests.Session | None = None,
    ):
        self.session = session or GuardedRedirectsSession()
        if headers:
            self.session.headers.update(headers)
        self.timeout_s = timeout_s
        self.retry = retry
        self.limiter = limiter
        self.redactor = redactor or Redactor()
        if isinstance(self.session, GuardedRedirectsSession):
            self.session.holds_secret = self.redactor.holds_secret
        self.auth_failure_hint = auth_failure_hint
        self.on_response = on_response
        self.log = log or logging.getLogger("shared.http")
        self.auth = None
        self._use_auth(auth)

    def _use_auth(self, auth) -> None:
        self.auth = auth
        if auth is not None and hasattr(auth, "secret_values"):
            self.redactor.add_provider(auth.secret_values)

    def with_auth(self, auth, auth_failure_hint: str | None = None) -> "Client":
        other = Client.__new__(Client)
        other.__dict__.update(self.__dict__)
        if auth_failure_hint is not None:
            other.auth_failure_hint = auth_failure_hint
        other._use_auth(auth)
        return other

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def request(self, method, url, *, params=None, data=None, headers=None, stream=False, auth=_UNSET,
                description: str | None = None) -> requests.Response:
        """Send with retries; return a response with status < 400 or raise HttpError / TransportError."""
        auth = self.auth if auth is _UNSET else auth
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            failure, wait_s, response = self._attempt(method, url, params, data, headers, stream, auth, attempt)
            if failure is None:
                return response
            # Named only now: redacting the URL on every successful request is measurable on 10,000-page walks.
            what = description or f"{method} {self.redactor.redact(_without_query(url))}"
            if response is not None and response.status_code == 401 and not refreshed and _can_refresh(auth):
                refreshed = True
                attempt -= 1  # the refresh is not a failed attempt
                self.log.info(f"{what}: HTTP 401, renewing the credentials once and retrying")
                auth.invalidate()
                continue
            if response is not None and not is_retryable_status(response.status_code):
                raise self._http_error(what, response)
            if attempt >= self.retry.max_attempts:
                break
            self._log_retry(what, failure, attempt, wait_s)
            sleep(wait_s)
        if response is not None:
            raise self._http_error(what, response, attempts=attempt)
        raise TransportError(f"{what} failed after {attempt} attempts: {failure}", retries_spent=True)

    def _log_retry(self, what: str, failure: str, attempt: int, wait_s: float) -> None:
        self.log.warning(f"{what}: {failure}; retry {attempt} of {self.retry.max_attempts - 1} in {wait_s:.1f}s")

    def _attempt(self, method, url, params, data, headers, stream, auth, attempt):
        """One try: (None, 0, response) on success, else (failure text, seconds to wait, response or None)."""
        if self.limiter:
            self.limiter.acquire()
        failure = response = None
        try:
            # Always streamed, so that a body read whole is read under a deadline (``_read_body``).
            response = self.session.request(method, url, params=params, data=data, headers=headers, auth=auth,
                                            timeout=self.timeout_s, stream=True)
            if response.status_code >= 300:
                self._read_error_body(response)  # before on_response, which may read it (AroFlo's status)
            elif not stream:
                self._read_body(response)
        except _TRANSIENT_ERRORS as exc:
            failure = self.describe_transport_error(exc)
        except requests.TooManyRedirects as exc:
            failure = self.describe_transport_error(exc)  # a loop within the origin: another try loops again
            raise TransportError(f"{method} {self.redactor.redact(_without_query(url))}: {failure}",
                                 retries_spent=True) from None
        except ValueError as exc:  # requests' InvalidURL and InvalidHeader are ValueErrors too
            if not _unsendable(exc):
                raise
            # Not the network: the request cannot be built or sent (a header value with a line break, a URL that
            # does not parse). Sending it again cannot help, and the error quotes the value or the URL: redacted.
            raise TransportError(f"{method} request could not be sent: {self.describe_transport_error(exc)}",
                                 retries_spent=True) from None
        if failure is not None:
            if response is not None:
                response.close()
            return failure, self.retry.backoff_s(attempt), None
        if self.on_response:
            self.on_response(response)
        if response.status_code < 300:
            if stream:  # the caller reads it (shared.parsing.body_chunks), under the same lateness rule
                response.too_late = self._lateness()
            return None, 0.0, response
        retry_after = parse_retry_after(response, self.retry.retry_after_cap_s)
        wait_s = retry_after if retry_after is not None else self.retry.backoff_s(attempt)
        return f"HTTP {response.status_code}", wait_s, response

    def _read_body(self, response: requests.Response) -> None:
        """Read a whole body (as requests would for a request not streamed), within a deadline and a size cap."""
        late = self._lateness()
        pieces, size = [], 0
        for piece in body_pieces(response):
            pieces.append(piece)
            size += len(piece)
            if size > BODY_MAX_BYTES:
                response.close()
                raise TransportError(f"the answer to {self.redactor.redact(_without_query(response.url))} is "
                                     f"larger than {BODY_MAX_BYTES // 2**20} MiB; it is not read", retries_spent=True)
            too_late = late(size)
            if too_late:
                response.close()
                raise requests.Timeout(too_late)
        response._content = b"".join(pieces)
        response._content_consumed = True

    def _read_error_body(self, response: requests.Response) -> None:
        """Read the start of an error body (for its excerpt and the ``on_response`` hook) under the same deadline;
        the network failing here only shortens the excerpt. Read to its end, the connection is kept."""
        late = self._lateness()
        pieces, size, complete = [], 0, False
        try:
            for piece in body_pieces(response):
                pieces.append(piece)
                size += len(piece)
                if size >= ERROR_BODY_BYTES or late(size):
                    break
            else:
                complete = True
        except (*_TRANSIENT_ERRORS, urllib3_exceptions.HTTPError, requests.RequestException):
            pass
        response._content = b"".join(pieces)[:ERROR_BODY_BYTES]
        response._content_consumed = complete  # not consumed: close() drops the connection, with the rest unread
        response.close()

    def _lateness(self) -> Callable[[int], str | None]:
        """For one body: given the bytes read so far, why it is too late (a message), or None while it is not."""
        started, grace_s = monotonic(), BODY_DEADLINE_READ_TIMEOUTS * _read_timeout_s(self.timeout_s)

        def late(size: int) -> str | None:
            elapsed = monotonic() - started
            if elapsed <= grace_s or size >= elapsed * BODY_MIN_BYTES_PER_S:
                return None
            return (f"the answer was still arriving after {elapsed:.0f} s, at {size / elapsed / 1024:.1f} KiB/s "
                    f"(after {grace_s:.0f} s an answer must average {BODY_MIN_BYTES_PER_S // 1024} KiB/s)")
        return late

    def describe_transport_error(self, exc: BaseException) -> str:
        """A short, redacted description of a network failure (its text often holds the full URL)."""
        return self.redactor.redact(f"{type(exc).__name__}: {_root_cause(exc)}")

    def _http_error(self, what: str, response: requests.Response, attempts: int = 1) -> HttpError:
        body = self.redactor.redact(_excerpt(response))
        after = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"{what} returned HTTP {response.status_code}{after}"
        if 300 <= response.status_code < 400:
            message += self._redirect_note(response)
        if response.status_code in AUTH_FAILURE_STATUSES and self.auth_failure_hint:
            message += f". {self.auth_failure_hint}"
        if body:
            message += f". Response: {body}"
        return HttpError(message, response.status_code)

    def _redirect_note(self, response: requests.Response) -> str:
        """Why a 3xx came back instead of being followed, naming where it pointed (its origin, redacted)."""
        location = response.headers.get("Location")
        if not location:
            return " without a Location to follow"
        try:
            scheme, host, port = origin(urljoin(response.url or "", location))
            where = self.redactor.redact(f"{scheme}://{host}:{port}")
        except ValueError:
            where = "an address that does not parse"
        return (f", a redirect to {where}: not followed (to another origin, only a GET's to https is, without "
                "credentials, and not when its address holds a secret; check the base URL)")

    def call_with_retries(self, what: str, fn: Callable[[], object]):
        """Run ``fn`` (e.g. a streamed download and its parsing) again when the network fails mid-way.

        Only transport failures while reading are retried here; ``fn`` must be safe to repeat (upserts by primary
        key are). A request that already spent its own retries (the host stays unreachable) is not tried again.
        """
        for attempt in range(1, self.retry.max_attempts + 1):
            failure = None
            try:
                return fn()
            except TransportError as exc:
                if exc.retries_spent:
                    raise
                failure = self.describe_transport_error(exc)
            except _TRANSIENT_ERRORS as exc:
                failure = self.describe_transport_error(exc)
            if attempt < self.retry.max_attempts:
                wait_s = self.retry.backoff_s(attempt)
                self._log_retry(what, failure, attempt, wait_s)
                sleep(wait_s)
        raise TransportError(f"{what} failed after {self.retry.max_attempts} attempts: {failure}")


def body_pieces(response: requests.Response, size: int = _BODY_READ_BYTES) -> Iterator[bytes]:
    """The decoded body as it arrives: each piece is what the socket had, not a full 64 KiB (``read`` waits for
    all of it, so a trickled body would never reach the deadline check between pieces). urllib3 before 2 has no
    ``read1``: there the check runs every ``size`` bytes."""
    read1 = getattr(response.raw, "read1", None) if isinstance(response.raw, Urllib3Response) else None
    if read1 is None:
        yield from response.iter_content(size)
        return
    while piece := read1(size, decode_content=True):
        yield piece


def _read_timeout_s(timeout_s) -> float:
    """The read part of a requests timeout: ``(connect, read)`` or one number for both."""
    return float(timeout_s[1] if isinstance(timeout_s, tuple) else timeout_s)


def _can_refresh(auth) -> bool:
    return auth is not None and callable(getattr(auth, "invalidate", None))


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _root_cause(exc: BaseException) -> str:
    """The innermost reason (e.g. 'Connection refused'), not the wrapper's text with the URL."""
    seen = exc
    while seen.__cause__ is not None or (seen.args and isinstance(seen.args[0], BaseException)):
        seen = seen.__cause__ if seen.__cause__ is not None else seen.args[0]
    reason = getattr(seen, "reason", None)
    return str(reason if reason is not None else seen)[:200]


def _excerpt(response: requests.Response) -> str:
    try:
        text = response.text
    except (requests.RequestException, urllib3_exceptions.HTTPError, RuntimeError):
        return ""
    return " ".join(text.split())[:BODY_EXCERPT_CHARS]
