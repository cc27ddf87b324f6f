"""Authentication applied to every request (and every retry) as ``requests.auth.AuthBase`` objects.

Each auth lists its secrets through ``secret_values()`` so the Client's Redactor can scrub them, and none of them
shows a secret in its ``repr`` (the SDK's crash report prints local variables).
Per-request signing that only one source uses (AroFlo's HMAC) lives with that connector.

Public: BearerToken, StaticHeaders, QueryKey, OAuth2ClientCredentials
"""

from collections.abc import Callable

import requests
from requests.auth import AuthBase

from shared import http_client


class BearerToken(AuthBase):
    """``Authorization: Bearer <token>`` plus optional non-secret headers (e.g. an account header)."""

    def __init__(self, token: str, extra_headers: dict | None = None):
        self._token = token
        self._extra_headers = dict(extra_headers or {})

    def __call__(self, request):
        request.headers.update(self._extra_headers)
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def secret_values(self) -> list[str]:
        return [self._token]

    def __repr__(self) -> str:
        return "BearerToken(***)"


class StaticHeaders(AuthBase):
    """Fixed headers; the values of ``secret_names`` are treated as secrets."""

    def __init__(self, headers: dict, secret_names: tuple[str, ...] = ()):
        self._headers = dict(headers)
        self._secret_names = secret_names

    def __call__(self, request):
        request.headers.update(self._headers)
        return request

    def secret_values(self) -> list[str]:
        return [self._headers[name] for name in self._secret_names if name in self._headers]

    def __repr__(self) -> str:
        return f"StaticHeaders({sorted(self._headers)})"


class QueryKey(AuthBase):
    """A key sent as a query parameter (``?apiKey=...``), added when the request is prepared."""

    def __init__(self, param: str, key: str):
        self._param = param
        self._key = key

    def __call__(self, request):
        request.prepare_url(request.url, {self._param: self._key})
        return request

    def secret_values(self) -> list[str]:
        return [self._key]

    def __repr__(self) -> str:
        return f"QueryKey({self._param}=***)"


class TokenRequestError(http_client.HttpError):
    """An HTTP error of the token endpoint. It reaches the caller through the API request that needed the token,
    so it is told apart from the API's own answers (a report's 404 "no data" is not a token endpoint's 404)."""


class OAuth2ClientCredentials(AuthBase):
    """OAuth2 client-credentials grant with the credentials in the form body.

    The token is fetched lazily, reused across requests, renewed ``refresh_margin_s`` before it expires
    (``expires_in``, or ``default_lifetime_s`` when absent) and dropped by ``invalidate()`` after a 401.
    Token requests go through ``http`` (a shared.http_client.Client without this auth), so they are retried too.
    """

    can_refresh = True

    def __init__(self, token_url: str, client_id: str, client_secret: str, http, *, scope: str | None = None,
                 extra_headers: dict | None = None, refresh_margin_s: float = 60.0,
                 default_lifetime_s: float = 3600.0, clock: Callable[[], float] | None = None):
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._scope = scope
        self._extra_headers = dict(extra_headers or {})
        self._refresh_margin_s = refresh_margin_s
        self._default_lifetime_s = default_lifetime_s
        self._clock = clock or (lambda: http_client.wall_clock())
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0
        http.redactor.add(client_secret)
        http.redactor.add_provider(self.secret_values)

    def __call__(self, request):
        request.headers.update(self._extra_headers)
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        if self._token is None or self._clock() >= self._renew_at:
            self._fetch()
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def secret_values(self) -> list[str]:
        return [value for value in (self._client_secret, self._token) if value]

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret}
        if self._scope:
            form["scope"] = self._scope
        response = self._post_form(form)
        body = _json_or_none(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ValueError(f"token request to {self._token_url} returned no access_token")
        lifetime_s = _positive_float(body.get("expires_in")) or self._default_lifetime_s
        self._token = str(body["access_token"])
        self._renew_at = self._clock() + lifetime_s - min(self._refresh_margin_s, lifetime_s / 2)
        self.tokens_fetched += 1

    def _post_form(self, form: dict) -> requests.Response:
        """The token POST; its HTTP errors become TokenRequestError. OAuth servers answer 400 (``invalid_client``,
        RFC 6749 section 5.2) to credentials they refuse, so a 400 gets the credentials hint a 401 or 403 gets."""
        hint = getattr(self._http, "auth_failure_hint", "")
        try:
            return self._http.request("POST", self._token_url, data=form, headers={"Accept": "application/json"},
                                      auth=None, description=f"token request to {self._token_url}")
        except http_client.HttpError as error:
            message = f"{error}. {hint}" if error.status == 400 and hint else str(error)
            refused = TokenRequestError(message, error.status)
        raise refused  # outside the except block: nothing chained

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(token_url={self._token_url!r}, client_secret=***)"


def _json_or_none(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _positive_float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
