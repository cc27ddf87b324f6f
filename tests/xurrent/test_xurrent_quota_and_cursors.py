"""Xurrent: quota pacing next to Retry-After, the reset margin, a spent quota without a reset header, the token
URL of a custom host with a port, and a saved cursor with an offset."""

from urllib.parse import parse_qs, urlsplit

import responses

from sandbox.xurrent import ACCOUNT
from shared import http_client
from tests.harness import run_update

HOST = "https://api.xurrent.com/v1"
CONFIGURATION = {"account_id": ACCOUNT, "oauth_token": "pat-0123456789abcdef"}


def _empty_rest(*tables):
    for table in tables:
        responses.get(f"{HOST}/{table}", json=[])


@responses.activate
def test_a_429_with_retry_after_on_a_spent_quota_waits_for_retry_after_only(xurrent, sleeps):
    """README: a 429 waits for its Retry-After; the quota's reset (20 minutes away here) is not waited for too."""
    reset = int(http_client.wall_clock()) + 1200
    responses.get(f"{HOST}/organizations", status=429, json={"message": "Too Many Requests"},
                  headers={"Retry-After": "30", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}])
    _empty_rest("products", "projects")
    recorder, _ = run_update(xurrent, CONFIGURATION)
    assert [row["id"] for row in recorder.upserts("organizations")] == [1]
    assert 30.0 in sleeps and max(sleeps) < 60, sleeps


@responses.activate
def test_the_quota_wait_ends_after_the_reset_not_before_it(xurrent, sleeps, monkeypatch):
    """README: waits until x-ratelimit-reset (+0.5 s): waking before it would meet the spent quota again."""
    monkeypatch.setattr(http_client, "wall_clock", lambda: 1_700_000_000.0)
    responses.get(f"{HOST}/organizations", json=[], headers={"X-RateLimit-Remaining": "1",
                                                             "X-RateLimit-Reset": "1700000030"})
    _empty_rest("products", "projects")
    run_update(xurrent, CONFIGURATION)
    quota_waits = [wait for wait in sleeps if wait > 1]
    assert len(quota_waits) == 1 and 30.0 < quota_waits[0] <= 31.0, sleeps


@responses.activate
def test_a_saved_cursor_with_an_offset_is_asked_in_utc(xurrent, sleeps):
    """A hand-edited (or older) state cursor with a local offset: the filter is its UTC instant, or the hours of
    the offset would be skipped."""
    responses.get(f"{HOST}/organizations", json=[])
    _empty_rest("products", "projects")
    _, state = run_update(xurrent, CONFIGURATION, {"organizations": {"cursor": "2024-03-01T10:00:00+02:00"}})
    first = responses.calls[0].request
    assert urlsplit(first.url).path.endswith("/organizations")
    assert parse_qs(urlsplit(first.url).query)["updated_at"] == [">=2024-03-01T08:00:00Z"]
    assert state["organizations"]["cursor"] == "2024-03-01T08:00:00Z"


@responses.activate
def test_a_spent_quota_without_a_reset_header_does_not_break_the_sync(xurrent, sleeps):
    """x-ratelimit-remaining without x-ratelimit-reset: nothing to wait for; the sync goes on."""
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}],
                  headers={"x-ratelimit-remaining": "0"})
    _empty_rest("products", "projects")
    recorder, _ = run_update(xurrent, CONFIGURATION)
    assert [row["id"] for row in recorder.upserts("organizations")] == [1]


@responses.activate
def test_client_credentials_on_a_custom_api_host_with_a_port_get_the_token_on_that_port(xurrent, sleeps):
    """https://api.<domain>:<port>/v1 -> https://oauth.<domain>:<port>/token: the port is part of the twin host."""
    base = "https://api.example.test:8443/v1"
    responses.post("https://oauth.example.test:8443/token", json={"access_token": "at-0123456789", "expires_in": 3600})
    for table in ("organizations", "products", "projects"):
        responses.get(f"{base}/{table}", json=[])
    run_update(xurrent, {"account_id": ACCOUNT, "client_id": "abc", "client_secret": "secret-0123456789",
                         "base_url": base})
    assert responses.calls[0].request.url == "https://oauth.example.test:8443/token"
