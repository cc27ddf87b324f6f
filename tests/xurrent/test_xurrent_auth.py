"""Xurrent authentication: regions and hosts, personal access token, OAuth client credentials, refusals, secrets."""

import pytest
import responses

from sandbox.xurrent import ACCOUNT, XurrentFake
from shared.http_client import HttpError
from tests.harness import run_update

TABLES = ("organizations", "products", "projects")
PAT = "pat-0123456789abcdef"


def api_requests(box):
    return box.requests_to("xurrent", "/v1/")


def token_requests(box):
    return box.requests_to("xurrent", "/token")


@pytest.mark.parametrize("region, api, oauth", [
    ("global", "https://api.xurrent.com/v1", "https://oauth.xurrent.com/token"),
    ("au", "https://api.au.xurrent.com/v1", "https://oauth.au.xurrent.com/token"),
    ("uk", "https://api.uk.xurrent.com/v1", "https://oauth.uk.xurrent.com/token"),
    ("ch", "https://api.ch.xurrent.com/v1", "https://oauth.ch.xurrent.com/token"),
    ("us", "https://api.us.xurrent.com/v1", "https://oauth.us.xurrent.com/token"),
    ("qa", "https://api.xurrent.qa/v1", "https://oauth.xurrent.qa/token"),
    ("qa-au", "https://api.au.xurrent.qa/v1", "https://oauth.au.xurrent.qa/token"),
    ("qa-us", "https://api.us.xurrent.qa/v1", "https://oauth.us.xurrent.qa/token"),
    ("demo", "https://api.xurrent-demo.com/v1", "https://oauth.xurrent-demo.com/token"),
    ("AU", "https://api.au.xurrent.com/v1", "https://oauth.au.xurrent.com/token"),
])
def test_each_region_maps_to_its_documented_api_and_oauth_hosts(xurrent, region, api, oauth):
    settings = xurrent.validate_configuration({"account_id": ACCOUNT, "client_id": "id", "client_secret": "secret1",
                                               "region": region})
    assert (settings.base_url, settings.token_url) == (api, oauth)


def test_the_global_host_is_the_default_and_base_url_overrides_the_region(xurrent):
    assert xurrent.validate_configuration({"account_id": "a", "oauth_token": PAT}).base_url == \
        "https://api.xurrent.com/v1"
    custom = xurrent.validate_configuration({"account_id": "a", "client_id": "i", "client_secret": "secret1",
                                             "region": "au", "base_url": "https://api.itsm.example.com/v1/"})
    assert (custom.base_url, custom.token_url) == ("https://api.itsm.example.com/v1",
                                                   "https://oauth.itsm.example.com/token")


def _mock_empty_tables(host: str) -> None:
    for table in TABLES:
        responses.get(f"{host}/v1/{table}", json=[], headers={"X-RateLimit-Remaining": "3599"})


@responses.activate
def test_a_personal_access_token_goes_to_the_region_host_with_the_account_header(xurrent, sleeps):
    _mock_empty_tables("https://api.au.xurrent.com")
    _, state = run_update(xurrent, {"account_id": "wna-it", "oauth_token": PAT, "region": "au"})
    assert [call.request.url.split("?")[0] for call in responses.calls] == [
        f"https://api.au.xurrent.com/v1/{table}" for table in TABLES]
    for call in responses.calls:
        assert call.request.headers["Authorization"] == f"Bearer {PAT}"
        assert call.request.headers["X-Xurrent-Account"] == "wna-it"
    assert state == {"organizations": {}, "products": {}, "projects": {}}


@responses.activate
def test_client_credentials_fetch_a_token_from_the_oauth_host_with_the_account_header(xurrent, sleeps):
    token = responses.post("https://oauth.xurrent.com/token",
                           json={"access_token": "issued-access-token-1", "token_type": "Bearer", "expires_in": 7200})
    _mock_empty_tables("https://api.xurrent.com")
    run_update(xurrent, {"account_id": ACCOUNT, "client_id": "my-client", "client_secret": "my-client-secret"})
    assert token.call_count == 1
    token_call = responses.calls[0].request
    assert token_call.headers["X-Xurrent-Account"] == ACCOUNT  # "every request" (contract 2.2)
    assert "Authorization" not in token_call.headers
    assert "grant_type=client_credentials" in token_call.body and "client_id=my-client" in token_call.body
    for call in responses.calls[1:]:
        assert call.request.headers["Authorization"] == "Bearer issued-access-token-1"
        assert call.request.headers["X-Xurrent-Account"] == ACCOUNT


def test_client_credentials_sync_with_one_token_against_the_fake(xurrent, sandbox, sleeps):
    fake = XurrentFake(auth_mode="oauth")
    box = sandbox(fake)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert len(recorder.upserts("projects")) == len(fake.ids("projects"))
    assert len(token_requests(box)) == 1 and fake.refused[401] == 0
    assert all(r.header("x-xurrent-account") == ACCOUNT for r in token_requests(box))


def test_a_token_that_expires_mid_sync_is_renewed_once_and_the_sync_succeeds(xurrent, sandbox, sleeps, log,
                                                                              monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    fake = XurrentFake(auth_mode="oauth", token_max_requests=4)  # the server drops each token early
    box = sandbox(fake)
    recorder, state = run_update(xurrent, box.configuration("xurrent"))
    for table in TABLES:
        assert {row["id"] for row in recorder.upserts(table)} == fake.ids(table)
    assert fake.refused[401] == fake.tokens_issued - 1 >= 1  # one 401 per renewal, never two in a row
    assert "renewing the credentials once" in log.text()
    assert set(state) == set(TABLES)


def test_a_token_is_renewed_before_it_expires(xurrent, sandbox, sleeps, clock):
    fake = XurrentFake(auth_mode="oauth", token_lifetime_s=100, clock=clock)
    box = sandbox(fake)
    # Each 429 makes the sync wait 40 s: the first token reaches its renewal time (expiry minus 50 s) mid-sync.
    box.faults.add("xurrent", "/v1/organizations", "status", nth=2, times=3, status=429, retry_after=40)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert len(recorder.upserts("organizations")) == len(fake.ids("organizations"))
    assert fake.tokens_issued == 2 and fake.refused[401] == 0  # renewed in time, never refused


def test_an_oauth_401_that_persists_after_renewal_fails_with_the_likely_causes(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake(auth_mode="oauth"))
    box.faults.add("xurrent", "/v1/organizations", "expired_token", times=None)
    with pytest.raises(HttpError) as error:
        run_update(xurrent, box.configuration("xurrent"))
    assert error.value.status == 401 and len(token_requests(box)) == 2 and len(api_requests(box)) == 2
    for cause in ("token", "scopes", "account_id", "region"):
        assert cause in str(error.value)


def test_a_wrong_client_secret_fails_at_the_token_request(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake(auth_mode="oauth"))
    configuration = {**box.configuration("xurrent"), "client_secret": "not-the-secret"}
    with pytest.raises(HttpError, match="token request .* returned HTTP 401. The OAuth token request was refused"):
        run_update(xurrent, configuration)
    assert len(token_requests(box)) == 1 and api_requests(box) == []


def test_a_wrong_personal_access_token_fails_at_once_naming_the_likely_causes(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    with pytest.raises(HttpError) as error:
        run_update(xurrent, {**box.configuration("xurrent"), "oauth_token": "revoked-token-123"})
    assert error.value.status == 401 and len(api_requests(box)) == 1 and sleeps == []
    for cause in ("token", "scopes", "account_id", "region"):
        assert cause in str(error.value)


def test_a_wrong_account_fails_at_once(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    with pytest.raises(HttpError, match="HTTP 403. Likely causes: .*'account_id' is not the account") as error:
        run_update(xurrent, {**box.configuration("xurrent"), "account_id": "someone-else"})
    assert error.value.status == 403 and len(api_requests(box)) == 1


@pytest.mark.parametrize("auth_mode", ["token", "oauth"])
def test_canary_secrets_never_appear_in_output_logs_or_errors(xurrent, sandbox, sleeps, capsys, log, monkeypatch,
                                                               auth_mode):
    canary = f"CANARY-xurrent-{auth_mode}-5e1f0c"
    monkeypatch.setattr(xurrent, "log", log)
    fake = XurrentFake(auth_mode=auth_mode, oauth_token=canary, client_secret=canary, token_max_requests=3)
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    box.faults.add("xurrent", "/v1/organizations", "status", nth=2, status=500)
    box.faults.add("xurrent", "/v1/products", "reset")
    box.faults.add("xurrent", "/v1/projects", "truncate")
    run_update(xurrent, configuration)
    errors = []
    box.faults.add("xurrent", "/v1/products", "status", status=400, times=None)
    with pytest.raises(HttpError) as failure:
        run_update(xurrent, configuration)
    errors.append(str(failure.value))
    box.faults.clear()
    box.faults.add("xurrent", "/v1/organizations", "expired_token", times=None)
    with pytest.raises(HttpError) as failure:
        run_update(xurrent, configuration)
    errors.append(str(failure.value))
    errors.append(xurrent.test_connection({**configuration, "account_id": "other"}).failure)
    issued = list(fake.tokens)
    text = "\n".join(errors) + capsys.readouterr().out + log.text()
    assert canary not in text and not any(token in text for token in issued)
    assert canary not in repr(xurrent.validate_configuration(configuration))
