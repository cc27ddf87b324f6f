"""shared.http_client: retries, backoff, Retry-After, 4xx handling, 401 refresh, rate limiting, redaction."""

import io
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
import responses

from sandbox.server import Reply
from shared import http_client
from shared.auth import BearerToken, QueryKey
from shared.http_client import Client, HttpError, RateLimiter, RetryPolicy, TransportError, parse_retry_after
from shared.redaction import Redactor

URL = "https://api.example.test/items"


def client(**kwargs) -> Client:
    return Client(**kwargs)


@responses.activate
def test_retries_a_500_then_returns_the_success(sleeps):
    responses.get(URL, status=500)
    responses.get(URL, json={"ok": True})
    assert client().get(URL).json() == {"ok": True}
    assert len(responses.calls) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 520, 599])
@responses.activate
def test_every_transient_status_is_retried(status, sleeps):
    responses.get(URL, status=status)
    responses.get(URL, json={})
    client().get(URL)
    assert len(responses.calls) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 422, 501, 505])
@responses.activate
def test_other_4xx_and_the_permanent_5xx_fail_at_once(status, sleeps):
    responses.get(URL, status=status, json={"message": "nope"})
    with pytest.raises(HttpError) as error:
        client().get(URL)
    assert error.value.status == status
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_retry_after_seconds_is_honoured(sleeps):
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, json={})
    client().get(URL)
    assert sleeps == [7.0]


@responses.activate
def test_retry_after_http_date_is_honoured(sleeps):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    responses.get(URL, status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    responses.get(URL, json={})
    client().get(URL)
    assert 27 <= sleeps[0] <= 30


@responses.activate
def test_retry_after_is_capped(sleeps):
    responses.get(URL, status=429, headers={"Retry-After": "86400"})
    responses.get(URL, json={})
    client(retry=RetryPolicy(retry_after_cap_s=120)).get(URL)
    assert sleeps == [120]


def test_parse_retry_after_forms():
    def response(headers):
        r = requests.Response()
        r.headers.update(headers)
        return r

    now = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after(response({"Retry-After": "2.5"}), 300) == 2.5
    assert parse_retry_after(response({"retry-after-ms": "1500"}), 300) == 1.5
    assert parse_retry_after(response({"Retry-After": "Thu, 01 Jan 2026 00:01:00 GMT"}), 300, lambda: now) == 60
    assert parse_retry_after(response({"Retry-After": "Wed, 31 Dec 2025 00:00:00 GMT"}), 300, lambda: now) == 0
    assert parse_retry_after(response({"Retry-After": "soon"}), 300) is None
    assert parse_retry_after(response({}), 300) is None


@responses.activate
def test_backoff_is_exponential_with_full_jitter(sleeps, monkeypatch):
    bounds = []
    monkeypatch.setattr(http_client, "jitter", lambda low, high: bounds.append((low, high)) or high)
    for _ in range(4):
        responses.get(URL, status=502)
    responses.get(URL, json={})
    client(retry=RetryPolicy(max_attempts=5, backoff_base_s=1, backoff_cap_s=5)).get(URL)
    assert bounds == [(0, 1), (0, 2), (0, 4), (0, 5)]
    assert sleeps == [1, 2, 4, 5]


@responses.activate
def test_gives_up_after_max_attempts_with_the_last_status(sleeps):
    for _ in range(3):
        responses.get(URL, status=503)
    with pytest.raises(HttpError, match="HTTP 503 after 3 attempts") as error:
        client(retry=RetryPolicy(max_attempts=3)).get(URL)
    assert error.value.status == 503
    assert len(responses.calls) == 3


@responses.activate
def test_connection_errors_and_timeouts_are_retried(sleeps):
    responses.get(URL, body=requests.ConnectionError("refused"))
    responses.get(URL, body=requests.exceptions.ReadTimeout("slow"))
    responses.get(URL, body=requests.exceptions.ChunkedEncodingError("cut"))
    responses.get(URL, json={"ok": 1})
    assert client().get(URL).json() == {"ok": 1}
    assert len(sleeps) == 3


@responses.activate
def test_transport_failure_on_every_attempt_raises_transport_error(sleeps):
    for _ in range(2):
        responses.get(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(TransportError, match="after 2 attempts"):
        client(retry=RetryPolicy(max_attempts=2)).get(URL)


class RefreshableAuth(requests.auth.AuthBase):
    def __init__(self):
        self.token, self.invalidated = "t1", 0

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def invalidate(self):
        self.invalidated += 1
        self.token = f"t{self.invalidated + 1}"


@responses.activate
def test_a_401_refreshes_the_auth_once_and_retries(sleeps):
    responses.get(URL, status=401)
    responses.get(URL, json={"ok": True})
    auth = RefreshableAuth()
    assert client(auth=auth).get(URL).json() == {"ok": True}
    assert auth.invalidated == 1
    assert responses.calls[1].request.headers["Authorization"] == "Bearer t2"


@responses.activate
def test_a_second_401_fails_without_another_refresh(sleeps):
    responses.get(URL, status=401)
    responses.get(URL, status=401)
    auth = RefreshableAuth()
    with pytest.raises(HttpError) as error:
        client(auth=auth, auth_failure_hint="Check the token.").get(URL)
    assert auth.invalidated == 1
    assert len(responses.calls) == 2
    assert error.value.status == 401
    assert "Check the token." in str(error.value)


@responses.activate
def test_a_401_without_refreshable_auth_is_not_retried(sleeps):
    responses.get(URL, status=401)
    with pytest.raises(HttpError):
        client().get(URL)
    assert len(responses.calls) == 1


def test_every_request_has_connect_and_read_timeouts(monkeypatch):
    seen = {}

    def fake_request(self, method, url, **kwargs):
        seen.update(kwargs)
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(b"")
        return response

    monkeypatch.setattr(requests.Session, "request", fake_request)
    client(timeout_s=(3.0, 9.0)).get(URL)
    assert seen["timeout"] == (3.0, 9.0)


def test_one_session_is_shared_by_clients_made_with_with_auth():
    base = client()
    other = base.with_auth(QueryKey("apiKey", "k" * 10))
    assert other.session is base.session
    assert other.redactor is base.redactor


@responses.activate
def test_a_key_in_the_query_string_never_reaches_an_exception_or_log(sleeps, log):
    secret = "SECRET-query-key-123"
    responses.get(URL, body=requests.ConnectionError(f"Max retries exceeded with url: /items?apiKey={secret}"))
    responses.get(URL, status=400, body=f"bad request for apiKey={secret}")
    c = client(auth=QueryKey("apiKey", secret), log=log)
    with pytest.raises(HttpError) as error:
        c.get(URL)
    assert secret not in str(error.value)
    assert "***" in str(error.value)
    assert secret not in log.text()
    assert error.value.__context__ is None and error.value.__cause__ is None


@pytest.mark.parametrize("token", ["PART-ONE-1234\nPART-TWO-5678", "PART-ONE-1234\rPART-TWO-5678"])
def test_a_request_that_cannot_be_sent_fails_at_once_and_redacted(sleeps, log, token):
    """http.client refuses a header value with a line break and quotes it escaped; nothing listens on port 9, and
    nothing needs to: the request fails before any connection."""
    c = client(auth=BearerToken(token), log=log)
    with pytest.raises(TransportError, match="could not be sent") as error:
        c.get("http://127.0.0.1:9/items")
    text = f"{error.value!r} {error.value} {log.text()}"
    assert "PART-ONE" not in text and "PART-TWO" not in text
    assert sleeps == [], "not retried"
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_errors_that_are_not_about_sending_still_propagate(sleeps):
    class Refusing(requests.auth.AuthBase):
        def __call__(self, request):
            raise ValueError("the connector's own check")

    with pytest.raises(ValueError, match="the connector's own check"):
        client(auth=Refusing()).get("http://127.0.0.1:9/items")


def test_redactor_removes_raw_encoded_and_named_secrets():
    redactor = Redactor(["a+b/c=d secret"])
    text = "x a+b/c=d secret y a%2Bb%2Fc%3Dd+secret z a%2Bb%2Fc%3Dd%20secret client_secret=zzz&token=qq"
    cleaned = redactor.redact(text)
    assert "secret y" not in cleaned and "a%2Bb" not in cleaned
    assert "client_secret=***" in cleaned and "token=***" in cleaned
    assert redactor.redact("Authorization: Bearer abcdef") == "Authorization: ***"
    assert Redactor(["one\ntwo"]).redact("value b'Bearer one\\ntwo'") == "value b'Bearer ***'"  # as repr quotes it


def test_redactor_asks_providers_every_time():
    current = ["first-token"]
    redactor = Redactor()
    redactor.add_provider(lambda: current)
    assert redactor.redact("first-token") == "***"
    current[0] = "second-token"
    assert redactor.redact("second-token first-token") == "*** first-token"


def test_rate_limiter_per_second_and_per_minute(monkeypatch):
    now = [0.0]
    waits = []

    def fake_sleep(seconds):
        waits.append(round(seconds, 3))
        now[0] += seconds

    monkeypatch.setattr(http_client, "sleep", fake_sleep)
    limiter = RateLimiter([(1.0, 3), (60.0, 5)], clock=lambda: now[0])
    for _ in range(6):
        limiter.acquire()
    assert waits == [1.0, 59.0]


@responses.activate
def test_a_test_that_patches_time_sleep_reaches_the_retry_wait(monkeypatch):
    """Tests elsewhere patch ``time.sleep`` (not our module): a Retry-After must then not sleep for real."""
    waited = []
    monkeypatch.setattr(time, "sleep", waited.append)
    responses.get(URL, status=429, headers={"Retry-After": "120"})
    responses.get(URL, json={})
    client().get(URL)
    assert waited == [120.0]


def test_a_frozen_clock_does_not_hold_the_rate_limiter_forever(monkeypatch):
    """Under a frozen clock (freezegun, a fixed lambda) and a no-op sleep, a full window still lets the next
    request go after one wait instead of looping."""
    waits = []
    monkeypatch.setattr(http_client, "sleep", waits.append)
    limiter = RateLimiter([(1.0, 1)], clock=lambda: 100.0)
    limiter.acquire()
    limiter.acquire()
    assert waits == [1.0]


def test_a_patched_out_time_sleep_does_not_turn_the_limiter_into_a_busy_loop(monkeypatch):
    """A test that patches ``time.sleep`` to return at once (the real clock running): one wait, then on."""
    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    limiter = RateLimiter([(60.0, 1)])
    started = time.monotonic()
    limiter.acquire()
    limiter.acquire()
    assert len(waits) == 1 and waits[0] > 59 and time.monotonic() - started < 1


def test_rate_limiter_below_one_per_second(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(http_client, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    limiter = RateLimiter.per(second=0.5)
    limiter._clock = lambda: now[0]
    limiter.acquire()
    limiter.acquire()
    assert now[0] == 2.0


def test_a_fractional_rate_above_one_keeps_its_rate(monkeypatch):
    """1.5 a second is 1.5 a second, not int(1.5) = 1: ten requests take 6 s, not 9."""
    now = [0.0]
    monkeypatch.setattr(http_client, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    limiter = RateLimiter.per(second=1.5)
    limiter._clock = lambda: now[0]
    for _ in range(10):
        limiter.acquire()
    assert now[0] == pytest.approx(6.0)


@responses.activate
def test_the_limiter_runs_before_every_attempt(sleeps):
    acquired = []

    class CountingLimiter:
        def acquire(self):
            acquired.append(1)

    responses.get(URL, status=500)
    responses.get(URL, json={})
    client(limiter=CountingLimiter()).get(URL)
    assert len(acquired) == 2


def test_a_body_cut_off_mid_read_is_retried(sandbox, sleeps):
    class Fixed:
        name = "fixed"

        def handle(self, request):
            return Reply.json({"rows": list(range(2000))})

    box = sandbox(Fixed())
    box.faults.add("fixed", "/", "truncate")
    response = client().get(box.url("fixed") + "/data")
    assert len(response.json()["rows"]) == 2000
    assert len(box.requests_to("fixed")) == 2


@pytest.mark.parametrize("failures, retry", [(2, None), (4, RetryPolicy(max_attempts=5))],
                         ids=["default-policy", "every-attempt-the-policy-allows"])
def test_call_with_retries_repeats_a_streamed_read(sleeps, log, failures, retry):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) <= failures:
            raise TransportError("cut off")
        return "done"

    http = client(log=log) if retry is None else client(log=log, retry=retry)
    assert http.call_with_retries("report x", flaky) == "done"
    assert len(calls) == failures + 1
    assert "report x" in log.text()


@responses.activate
def test_call_with_retries_does_not_multiply_the_retries_of_an_unreachable_host(sleeps):
    responses.get(URL, body=requests.ConnectionError("Connection refused"))
    http = client(retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError, match="failed after 3 attempts"):
        http.call_with_retries("report x", lambda: http.get(URL))
    assert len(responses.calls) == 3  # the request's own attempts, not 3 x 3


def test_with_sleeping_patched_the_limiter_sees_time_pass_instead_of_spinning(sleeps):
    limiter = RateLimiter.per(second=3)
    for _ in range(7):
        limiter.acquire()
    assert len(sleeps) == 2 and all(0.9 < s <= 1.0 for s in sleeps)


def test_the_session_reads_the_proxy_environment_once_per_origin_with_requests_own_answer(monkeypatch):
    """EnvironmentCachingSession: the same settings requests computes, looked up once per origin and arguments."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    lookups = []
    original = requests.Session.merge_environment_settings

    def counted(self, url, proxies, stream, verify, cert):
        lookups.append(url)
        return original(self, url, proxies, stream, verify, cert)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
    cached, plain = http_client.EnvironmentCachingSession(), requests.Session()
    for url in (URL, URL + "?page=2", "https://internal.example.test/x", "https://internal.example.test/y?z=1"):
        for stream, verify in ((False, None), (True, None), (False, False)):
            expected = original(plain, url, {}, stream, verify, None)
            assert cached.merge_environment_settings(url, {}, stream, verify, None) == expected
            assert cached.merge_environment_settings(url, {}, stream, verify, None) == expected
    assert len(lookups) == 2 * 3  # two origins, three argument sets: the environment was read six times
    assert cached.merge_environment_settings(URL, {}, False, None, None)["proxies"]["https"] == \
        "http://proxy.example.test:3128"
    assert "https" not in cached.merge_environment_settings("https://internal.example.test/", {}, False, None,
                                                           None)["proxies"]


@responses.activate
def test_a_client_sends_through_the_caching_session():
    responses.get(URL, json={"ok": True})
    http = client()
    assert isinstance(http.session, http_client.EnvironmentCachingSession)
    assert http.get(URL).json() == {"ok": True} and http.get(URL).json() == {"ok": True}


# --- redirects: credentials stay with their origin --------------------------------------------------------------

OTHER = "https://elsewhere.example.test/items"


@responses.activate
def test_a_redirect_within_the_origin_is_followed_with_the_credentials():
    responses.get(URL, status=301, headers={"Location": "/v2/items"})
    responses.get("https://api.example.test/v2/items", json={"ok": True})
    assert client(auth=BearerToken("tok")).get(URL).json() == {"ok": True}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_a_get_redirected_to_another_https_host_is_followed_without_any_credential(status):
    """A report served from a storage host still works; no token, signature or account header goes there."""
    responses.get(URL, status=status, headers={"Location": OTHER + "?signature=from-the-server"})
    responses.get(OTHER, body="id\n1\n")

    def signed(request):
        request.headers.update({"Authentication": "HMAC SIGNATURE", "afdatetimeutc": "2026-01-01T00:00:00Z"})
        return request

    http = client(auth=signed, headers={"X-Xurrent-Account": "acme", "Authorization": "Bearer TOKEN",
                                        "Accept": "text/csv"})
    assert http.get(URL).text == "id\n1\n"
    first, second = (call.request for call in responses.calls)
    assert first.headers["Authentication"] == "HMAC SIGNATURE" and first.headers["X-Xurrent-Account"] == "acme"
    assert second.url == OTHER + "?signature=from-the-server"
    assert set(second.headers) <= {"User-Agent", "Accept-Encoding", "Accept", "Connection"}
    assert second.headers["Accept"] == "text/csv"


@pytest.mark.parametrize("target", ["http://api.example.test/items", "http://elsewhere.example.test/items"])
@responses.activate
def test_a_redirect_to_plain_http_is_not_followed_and_fails_naming_it(target, sleeps):
    responses.get(URL, status=301, headers={"Location": target + "?apiKey=SECRETKEY"})
    responses.get(target, json={"id": "injected"})
    http = client(auth=QueryKey("apiKey", "SECRETKEY"), redactor=Redactor(["SECRETKEY"]))
    with pytest.raises(HttpError) as error:
        http.get(URL + "?apiKey=SECRETKEY")
    assert len(responses.calls) == 1  # nothing went over plain http, and no injected answer was read
    assert error.value.status == 301
    assert f"a redirect to {target.rsplit('/', 1)[0]}:80: not followed" in str(error.value)
    assert "SECRETKEY" not in str(error.value)
    assert sleeps == []  # not retried: the next try would be redirected again


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_a_post_redirected_to_another_host_is_not_followed(status):
    """A token POST's form holds the client secret: a 307/308 would resend it there, a 301-303 turn it into a GET."""
    token_url = "https://auth.example.test/oauth/token"
    responses.post(token_url, status=status, headers={"Location": "https://elsewhere.example.test/token"})
    responses.add(responses.GET, "https://elsewhere.example.test/token", json={"access_token": "stolen"})
    responses.post("https://elsewhere.example.test/token", json={"access_token": "stolen"})
    with pytest.raises(HttpError, match="a redirect to https://elsewhere.example.test:443: not followed"):
        client().request("POST", token_url, data={"client_secret": "CLIENTSECRET"})
    assert [call.request.url for call in responses.calls] == [token_url]


@responses.activate
def test_a_key_in_the_query_that_a_redirect_to_another_host_echoes_is_not_sent_there():
    responses.get(URL, status=301, headers={"Location": OTHER + "?apiKey=SECRETKEY&getMethod=x"})
    responses.get(OTHER, body="<rows/>")
    http = client(auth=QueryKey("apiKey", "SECRETKEY"), redactor=Redactor(["SECRETKEY"]))
    with pytest.raises(HttpError, match="a redirect to https://elsewhere.example.test:443: not followed") as error:
        http.get(URL)
    assert len(responses.calls) == 1 and "SECRETKEY" not in str(error.value)


@pytest.mark.parametrize("status", [300, 304, 305])
@responses.activate
def test_a_3xx_without_a_location_is_said_to_be_one(status):
    responses.get(URL, status=status)
    with pytest.raises(HttpError, match=f"returned HTTP {status} without a Location to follow$"):
        client().get(URL)


@responses.activate
def test_a_location_that_does_not_parse_is_not_followed_and_said_so():
    responses.get(URL, status=302, headers={"Location": "https://api.example.test:99999/items"})
    with pytest.raises(HttpError, match="a redirect to an address that does not parse: not followed"):
        client().get(URL)


@responses.activate
def test_a_redirect_loop_fails_once_with_the_path_and_no_query():
    responses.get(URL, status=302, headers={"Location": URL + "?apiKey=SECRETKEY"})
    http = client(redactor=Redactor(["SECRETKEY"]))
    with pytest.raises(TransportError, match="GET https://api.example.test/items: TooManyRedirects") as error:
        http.get(URL)
    assert "SECRETKEY" not in str(error.value)
    assert len(responses.calls) == http.session.max_redirects + 1  # one attempt, not five


# --- whole answers: a deadline and a size cap ---------------------------------------------------------------------

@responses.activate
def test_an_answer_still_arriving_after_ten_read_timeouts_is_a_timeout_and_retried(monkeypatch, sleeps):
    body = b"x" * (http_client._BODY_READ_BYTES * 4)
    responses.get(URL, body=body)
    responses.get(URL, body=b"complete")
    clock = iter(range(0, 10_000, 30))  # every read of a piece takes 30 s: the fourth passes 10 x 9 s
    monkeypatch.setattr(http_client, "monotonic", lambda: float(next(clock)))
    http = client(timeout_s=(3.0, 9.0))
    assert http.get(URL).content == b"complete"
    assert len(responses.calls) == 2


@responses.activate
def test_an_answer_that_never_completes_fails_naming_the_deadline(monkeypatch, sleeps):
    responses.get(URL, body=b"x" * (http_client._BODY_READ_BYTES * 4))
    clock = iter(range(0, 10_000, 30))
    monkeypatch.setattr(http_client, "monotonic", lambda: float(next(clock)))
    with pytest.raises(TransportError, match=r"the answer was still arriving after 1\d\d s, at [\d.]+ KiB/s \(after "
                                             r"90 s an answer must average 8 KiB/s\)"):
        client(timeout_s=(3.0, 9.0), retry=RetryPolicy(max_attempts=2)).get(URL)


@responses.activate
def test_a_large_answer_on_a_slow_but_steady_link_is_read_past_the_grace_time(monkeypatch, sleeps):
    """A 60 MB Customer Thermometer day at 40 KB/s takes 25 minutes: past 10 read timeouts, but it keeps coming."""
    body = b"x" * (http_client._BODY_READ_BYTES * 40)
    responses.get(URL, body=body)
    clock = iter(range(0, 100_000, 2))  # each 64 KiB piece takes 2 s: 32 KiB/s
    monkeypatch.setattr(http_client, "monotonic", lambda: float(next(clock)))
    assert client(timeout_s=(3.0, 5.0)).get(URL).content == body  # 50 s of grace, 80 s in all
    assert len(responses.calls) == 1


@responses.activate
def test_an_error_body_is_read_up_to_its_excerpt(sleeps):
    responses.get(URL, status=404, body=b"y" * 200_000)
    with pytest.raises(HttpError) as error:
        client().get(URL)
    assert "y" * 250 in str(error.value)  # the excerpt, from the first 64 KiB read


@responses.activate
def test_an_answer_larger_than_the_cap_fails_without_a_retry(monkeypatch, sleeps):
    monkeypatch.setattr(http_client, "BODY_MAX_BYTES", 100_000)
    responses.get(URL, body=b"x" * 200_000)
    with pytest.raises(TransportError, match=r"answer to https://api.example.test/items is larger than"):
        client().get(URL)
    assert len(responses.calls) == 1


@responses.activate
def test_a_streamed_answer_is_returned_unread_for_the_caller():
    responses.get(URL, body=b"a,b\n1,2\n")
    response = client().get(URL, stream=True)
    assert response._content is False  # not read by the client: the caller streams it
    assert response.raw.read() == b"a,b\n1,2\n"


@pytest.fixture
def trickling_server():
    """A server on 127.0.0.1 that answers 200 and then sends its 40-byte body a byte every 0.1 s (4 s)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 40\r\n\r\n")
            for _ in range(40):
                if stop.wait(0.1):
                    return
                connection.sendall(b" ")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
    stop.set()
    listener.close()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_body_trickled_over_a_real_socket_is_cut_off_at_the_deadline(monkeypatch, trickling_server, streamed):
    """Each byte comes well within the read timeout, so only the rule on the whole answer can end it; a streamed
    answer (a Pindrop report) is held to it as the caller reads it."""
    from shared.parsing import body_chunks

    monkeypatch.setattr(http_client, "BODY_DEADLINE_READ_TIMEOUTS", 1)
    started = time.monotonic()
    http = client(timeout_s=(1.0, 1.0), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(TransportError, match=r"still arriving after 1 s, at 0.0 KiB/s"):
        if streamed:
            list(body_chunks(http.get(trickling_server, stream=True)))
        else:
            http.get(trickling_server)
    assert time.monotonic() - started < 3  # the whole body would take 4 s


@pytest.mark.parametrize("target", ["http://elsewhere.example.test/items", "http://api.example.test:8080/items"])
@responses.activate
def test_a_get_redirect_to_plain_http_holding_no_secret_is_not_followed(target, sleeps):
    """The secret guard is not the only one: an https -> http hop is refused for any GET (its answer would be
    taken as data over a network in clear)."""
    responses.get(URL, status=302, headers={"Location": target})
    responses.get(target, json={"id": "injected"})
    with pytest.raises(HttpError, match="not followed") as error:
        Client().get(URL)
    assert error.value.status == 302
    assert len(responses.calls) == 1


class _CountingBody(io.RawIOBase):
    """An endless, fast error body that counts what was read of it."""

    def __init__(self, limit: int):
        self.limit, self.read_bytes = limit, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.limit - self.read_bytes)
        buffer[:n] = b"e" * n
        self.read_bytes += n
        return n


@responses.activate
def test_a_fast_error_body_is_read_only_up_to_its_excerpt_size(sleeps):
    """A proxy answering 404 with a huge (or endless) fast body: only ERROR_BODY_BYTES of it are read, so memory
    and time stay bounded (the lateness rule alone never stops a fast body)."""
    body = _CountingBody(limit=50 * 2**20)
    responses.get(URL, status=404, body=io.BufferedReader(body))
    with pytest.raises(HttpError):
        Client().get(URL)
    assert body.read_bytes < 2 * http_client.ERROR_BODY_BYTES + 2 * http_client._BODY_READ_BYTES


class _Refreshable(requests.auth.AuthBase):
    def __init__(self):
        self.invalidated = 0

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer token-{self.invalidated}"
        return request

    def invalidate(self):
        self.invalidated += 1


@responses.activate
def test_the_401_refresh_does_not_use_up_one_of_the_retries(sleeps):
    responses.get(URL, status=401)
    responses.get(URL, status=503)
    responses.get(URL, json={"ok": True})
    auth = _Refreshable()
    assert Client(auth=auth, retry=RetryPolicy(max_attempts=2)).get(URL).json() == {"ok": True}
    assert auth.invalidated == 1 and len(responses.calls) == 3
