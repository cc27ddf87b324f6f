"""shared.auth: header, query-key and OAuth2 client-credentials auth; secrets never shown."""

import pytest
import responses
from responses import matchers

from shared.auth import BearerToken, OAuth2ClientCredentials, QueryKey, StaticHeaders, TokenRequestError
from shared.http_client import Client, HttpError

TOKEN_URL = "https://auth.example.test/oauth2/token"
API_URL = "https://api.example.test/report"
SECRET = "client-secret-value-42"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def oauth(clock=None, **kwargs):
    http = Client()
    auth = OAuth2ClientCredentials(TOKEN_URL, "my-client", SECRET, http, clock=clock or Clock(), **kwargs)
    return http.with_auth(auth), auth


@responses.activate
def test_token_is_fetched_once_and_reused(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 3600},
                   match=[matchers.urlencoded_params_matcher(
                       {"grant_type": "client_credentials", "client_id": "my-client", "client_secret": SECRET})])
    responses.get(API_URL, json={})
    api, auth = oauth()
    for _ in range(3):
        api.get(API_URL)
    assert auth.tokens_fetched == 1
    assert all(c.request.headers.get("Authorization") == "Bearer tok-1" for c in responses.calls[1:])


@responses.activate
def test_token_is_renewed_before_it_expires(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 600})
    responses.post(TOKEN_URL, json={"access_token": "tok-2", "expires_in": 600})
    responses.get(API_URL, json={})
    clock = Clock()
    api, auth = oauth(clock, refresh_margin_s=60)
    api.get(API_URL)
    clock.now += 539
    api.get(API_URL)
    assert auth.tokens_fetched == 1
    clock.now += 2  # now inside the 60 s margin before expiry
    api.get(API_URL)
    assert auth.tokens_fetched == 2
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


@responses.activate
def test_default_lifetime_when_expires_in_is_absent(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "tok-1"})
    responses.post(TOKEN_URL, json={"access_token": "tok-2"})
    responses.get(API_URL, json={})
    clock = Clock()
    api, auth = oauth(clock, default_lifetime_s=1000, refresh_margin_s=60)
    api.get(API_URL)
    clock.now += 900
    api.get(API_URL)
    assert auth.tokens_fetched == 1
    clock.now += 50
    api.get(API_URL)
    assert auth.tokens_fetched == 2


@responses.activate
def test_a_401_invalidates_the_token_and_retries_once_with_a_new_one(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 3600})
    responses.post(TOKEN_URL, json={"access_token": "tok-2", "expires_in": 3600})
    responses.get(API_URL, status=401)
    responses.get(API_URL, json={"ok": True})
    api, auth = oauth()
    assert api.get(API_URL).json() == {"ok": True}
    assert auth.tokens_fetched == 2
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


@responses.activate
def test_rejected_client_credentials_fail_clearly_without_the_secret(sleeps):
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client", "echo": f"client_secret={SECRET}"})
    responses.get(API_URL, json={})
    http = Client(auth_failure_hint="Check client_id and client_secret.")
    api = http.with_auth(OAuth2ClientCredentials(TOKEN_URL, "my-client", SECRET, http))
    with pytest.raises(HttpError) as error:
        api.get(API_URL)
    message = str(error.value)
    assert "token request" in message and "Check client_id and client_secret." in message
    assert SECRET not in message
    assert len(responses.calls) == 1


@responses.activate
def test_token_requests_are_retried_on_5xx(sleeps):
    responses.post(TOKEN_URL, status=503)
    responses.post(TOKEN_URL, json={"access_token": "tok-1"})
    responses.get(API_URL, json={})
    api, auth = oauth()
    api.get(API_URL)
    assert auth.tokens_fetched == 1


@responses.activate
def test_a_token_response_without_access_token_is_an_error(sleeps):
    responses.post(TOKEN_URL, json={"token_type": "bearer"})
    api, _ = oauth()
    with pytest.raises(ValueError, match="no access_token"):
        api.get(API_URL)


@responses.activate
def test_access_token_is_redacted_from_errors(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "live-access-token-9"})
    responses.get(API_URL, status=400, body="bad token live-access-token-9")
    api, _ = oauth()
    with pytest.raises(HttpError) as error:
        api.get(API_URL)
    assert "live-access-token-9" not in str(error.value)


@responses.activate
def test_query_key_bearer_and_static_headers_are_applied():
    responses.get(API_URL, json={})
    Client(auth=QueryKey("apiKey", "key-123")).get(API_URL, params={"getMethod": "x"})
    Client(auth=BearerToken("tok-abc", {"X-Account": "acme"})).get(API_URL)
    Client(auth=StaticHeaders({"X-Api-Key": "hdr-secret"}, secret_names=("X-Api-Key",))).get(API_URL)
    first, second, third = (c.request for c in responses.calls)
    assert "apiKey=key-123" in first.url and "getMethod=x" in first.url
    assert second.headers["Authorization"] == "Bearer tok-abc" and second.headers["X-Account"] == "acme"
    assert third.headers["X-Api-Key"] == "hdr-secret"


def test_no_auth_shows_a_secret_in_its_repr():
    http = Client()
    auths = [BearerToken("tok-abc"), QueryKey("apiKey", "key-123"),
             StaticHeaders({"X-Api-Key": "hdr-secret"}, ("X-Api-Key",)),
             OAuth2ClientCredentials(TOKEN_URL, "id", SECRET, http)]
    text = " ".join(repr(a) for a in auths)
    for secret in ("tok-abc", "key-123", "hdr-secret", SECRET):
        assert secret not in text


@responses.activate
def test_a_token_request_refused_with_400_carries_the_credentials_hint(sleeps):
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client"})
    http = Client(auth_failure_hint="Check 'client_id' and 'client_secret'")
    api = http.with_auth(OAuth2ClientCredentials(TOKEN_URL, "my-client", SECRET, http, clock=Clock()))
    with pytest.raises(TokenRequestError) as refused:
        api.get(API_URL)
    assert refused.value.status == 400 and len(responses.calls) == 1  # a 400 is not retried
    assert "invalid_client" in str(refused.value) and "Check 'client_id' and 'client_secret'" in str(refused.value)
    assert SECRET not in str(refused.value) and refused.value.__context__ is None


@responses.activate
def test_a_token_endpoint_error_is_told_apart_from_the_apis_own_answers(sleeps):
    """A 404 from a wrong token URL reaches the caller through the API request: it must not pass for the API's."""
    responses.post(TOKEN_URL, status=404, json={"message": "no such path"})
    api, _ = oauth()
    with pytest.raises(TokenRequestError) as refused:
        api.get(API_URL)
    assert refused.value.status == 404 and isinstance(refused.value, HttpError)
    assert [call.request.url for call in responses.calls] == [TOKEN_URL]  # the API was never asked


@pytest.mark.parametrize("expires_in", [-1, "-3600", 0, "soon"])
@responses.activate
def test_an_expires_in_that_is_not_a_positive_number_takes_the_default_lifetime(expires_in, sleeps):
    """A token whose expires_in is negative (or zero, or not a number) is used for the default lifetime, not
    fetched again before every API request."""
    from shared.auth import OAuth2ClientCredentials
    token_url, api_url = "https://auth.example.test/oauth2/token", "https://api.example.test/report"
    responses.post(token_url, json={"access_token": "tok-1", "expires_in": expires_in})
    responses.get(api_url, json={})
    now = [1000.0]
    http = Client()
    auth = OAuth2ClientCredentials(token_url, "my-client", "client-secret-value-42", http, clock=lambda: now[0],
                                   default_lifetime_s=3600)
    api = http.with_auth(auth)
    for _ in range(3):
        api.get(api_url)
        now[0] += 600
    assert auth.tokens_fetched == 1
