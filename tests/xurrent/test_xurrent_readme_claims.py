"""Xurrent README claims, each checked as the README states it (responses mocks at the documented hosts)."""
from datetime import datetime, timedelta, timezone

import pytest
import responses

from shared.config import ConfigError
from shared.http_client import HttpError
from tests.harness import run_update

HOST = "https://api.xurrent.com/v1"
PAT = {"account_id": "widget", "oauth_token": "pat-0123456789abcdef"}
CC = {"account_id": "widget", "client_id": "cid", "client_secret": "csecret"}
TABLES = ("organizations", "products", "projects")


def empty_tables(**headers):
    for table in TABLES:
        responses.get(f"{HOST}/{table}", json=[], headers=headers)


# README xurrent/README.md:23 "request_timeout_seconds 10-300: read timeout per request (connect timeout 10 s)"
@pytest.mark.parametrize("setting, expected", [(None, (10.0, 30.0)), ("300", (10.0, 300.0))])
@responses.activate
def test_timeouts_are_10s_connect_and_the_setting_for_reads(xurrent, sleeps, setting, expected):
    empty_tables()
    configuration = {**PAT, **({"request_timeout_seconds": setting} if setting else {})}
    run_update(xurrent, configuration)
    assert {c.request.req_kwargs["timeout"] for c in responses.calls} == {expected}


# README xurrent/README.md:24 "retry_attempts 1-10: retries of a failed request after the first attempt"
@responses.activate
def test_the_default_3_retries_make_4_attempts_on_a_persistent_503(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", status=503)
    with pytest.raises(HttpError, match="503"):
        run_update(xurrent, PAT)
    assert len(responses.calls) == 4


# README xurrent/README.md:212 "A token request refused with 400 (as OAuth servers answer a bad client) gets the same
# credentials hint as a 401 or 403."
@pytest.mark.parametrize("status", [400, 401])
@responses.activate
def test_a_token_request_refused_with_400_gets_the_same_credentials_hint_as_401(xurrent, sleeps, status):
    responses.post("https://oauth.xurrent.com/token", status=status, json={"error": "invalid_client"})
    failure = xurrent.test_connection(CC).failure
    assert "client_id" in failure and "client_secret" in failure and "region" in failure, failure
    assert "csecret" not in failure


# README xurrent/README.md:194 "x-ratelimit-remaining at 2 or less: waits until x-ratelimit-reset (epoch seconds;
# +0.5 s, at most 3,660 s)"
@responses.activate
def test_a_quota_reset_far_ahead_is_waited_for_at_most_3660_seconds(xurrent, sleeps, clock):
    responses.get(f"{HOST}/organizations", json=[], headers={"X-RateLimit-Remaining": "2",
                                                             "X-RateLimit-Reset": str(int(clock()) + 86400)})
    for table in TABLES[1:]:
        responses.get(f"{HOST}/{table}", json=[], headers={"X-RateLimit-Remaining": "3000"})
    run_update(xurrent, PAT)
    assert sleeps == [3660.0]


# README xurrent/README.md:25 "enable_incremental_sync false: every sync reads every record (from initial_sync_days
# if set)"
@responses.activate
def test_incremental_off_with_initial_sync_days_reads_the_window_every_sync(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2026-01-01T00:00:00Z"}])
    for table in TABLES[1:]:
        responses.get(f"{HOST}/{table}", json=[])
    configuration = {**PAT, "enable_incremental_sync": "false", "initial_sync_days": "30"}
    _, state = run_update(xurrent, configuration)
    responses.calls.reset()
    run_update(xurrent, configuration, state)
    since = datetime.now(timezone.utc) - timedelta(days=30)
    for call in responses.calls:
        bound = call.request.params.get("updated_at")
        assert bound and bound.startswith(">="), call.request.url
        value = datetime.fromisoformat(bound[2:].replace("Z", "+00:00"))
        assert abs((value - since).total_seconds()) < 120, bound


# README xurrent/README.md:224 "A base_url on a 4me host is accepted"
def test_a_base_url_on_a_4me_host_is_accepted(xurrent):
    settings = xurrent.validate_configuration({**PAT, "base_url": "https://api.4me.com/v1"})
    assert settings.base_url.startswith("https://api.4me.com/v1")


# README xurrent/README.md:43-45: one token per lifetime, and the token request carries the account header
@responses.activate
def test_with_client_credentials_one_token_serves_the_sync_and_every_request_names_the_account(xurrent, sleeps):
    responses.post("https://oauth.xurrent.com/token", json={"access_token": "t1", "expires_in": 3600})
    empty_tables()
    run_update(xurrent, CC)
    assert sum(1 for c in responses.calls if "oauth" in c.request.url) == 1
    headers = {c.request.headers.get("X-Xurrent-Account") for c in responses.calls}
    assert headers == {"widget"}  # the token request carries the account header too (README :45)


# README xurrent/README.md:151 "It is checkpointed at a page boundary once 5,000 rows or 30 s have passed since the
# last checkpoint"
@responses.activate
def test_a_slow_walk_checkpoints_its_cursor_every_30_seconds(xurrent, sleeps, monkeypatch):
    import functools
    ticks = iter(range(0, 10_000, 31))
    monkeypatch.setattr(xurrent, "TableProgress", functools.partial(xurrent.TableProgress,
                                                                    clock=lambda: float(next(ticks))))
    for n in (1, 2, 3):
        link = {"Link": f'<{HOST}/organizations?page={n + 1}>; rel="next"'} if n < 3 else {}
        params = {} if n == 1 else {"page": str(n)}
        responses.get(f"{HOST}/organizations", json=[{"id": n, "updated_at": f"2026-01-0{n}T00:00:00Z"}],
                      headers=link, match=[responses.matchers.query_param_matcher(params, strict_match=False)])
    for table in TABLES[1:]:
        responses.get(f"{HOST}/{table}", json=[])
    recorder, _ = run_update(xurrent, PAT)
    cursors = [c.get("organizations", {}).get("cursor") for c in recorder.checkpoints]
    assert "2026-01-01T00:00:00Z" in cursors and "2026-01-02T00:00:00Z" in cursors, cursors


# README xurrent/README.md:75 "a configuration error names the key and the expected form"
@pytest.mark.parametrize("base_url", ["https://[api.xurrent.com/v1", "https://api.xurrent.com]/v1"])
def test_a_base_url_with_a_stray_bracket_fails_naming_base_url(xurrent, base_url):
    with pytest.raises(ConfigError, match="base_url"):
        xurrent.validate_configuration({**PAT, "base_url": base_url})
    assert "'base_url'" in xurrent.test_connection({**PAT, "base_url": base_url}).failure
