"""HMAC signing: vectors computed independently of the connector, fresh signatures per attempt, exact varString."""

import hashlib
import hmac
import re
from datetime import datetime, timezone

import pytest
import requests
import responses

from shared.http_client import Client, RetryPolicy
from tests.aroflo.conftest import SMALL

FIXED = datetime(2024, 5, 13, 23, 14, 15, tzinfo=timezone.utc)


def api_module():
    import aroflo_api  # importable once the connector module has been loaded (it puts its folder on sys.path)

    return aroflo_api


def signed(auth, url: str, method: str = "GET") -> requests.PreparedRequest:
    return auth(requests.Request(method, url).prepare())


# Published golden vectors of an independent zone-API client (AdrianAFPlumbing/aroflo-mcp,
# tests/fixtures/auth-vectors.json): the expected hex was computed by that client, not by this code.
PUBLIC_VECTORS = [
    ("203.0.113.10", "zone=lastupdate&where=and%7Czonename%7C%3D%7Ctasks&order=lastupdateutc%7Casc&page=1",
     "92b116903c261939c95edf99be9dcc9d0875cadbcfe4ea39eb1610a23150eb66c978552e0a3b7f35e532120cec474decf0805"
     "6d906bafea9d0347eee1fdb7ec4"),
    (None, "zone=lastupdate&where=and%7Czonename%7C%3D%7Cquotes&where=and%7Clastupdateutc%7C%3E%7C2022%2F02%2F01"
           "&order=lastupdateutc%7Casc&page=2&pageSize=250",
     "44b846cb9789c4bdc867f360b81e9713dde09770e92f0dd14f8ade11048c3894a8a5d92afda10818d2d63dfca4ba79817d91c08"
     "37f61fcb7217676bf2619db98"),
]


@pytest.mark.parametrize("host_ip, var_string, expected", PUBLIC_VECTORS)
def test_signature_matches_a_published_vector(aroflo, host_ip, var_string, expected):
    auth = api_module().AroFloHmacAuth("test-user", "test-pass", "test-org", "top-secret", host_ip=host_ip,
                                       clock=lambda: FIXED.replace(microsecond=0))
    request = signed(auth, f"https://api.aroflo.com/?{var_string}")
    assert request.headers["Authentication"] == f"HMAC {expected}"
    assert request.headers["afdatetimeutc"] == "2024-05-13T23:14:15.000Z"
    assert request.headers.get("HostIP") == host_ip


def test_signature_equals_hmac_sha512_of_the_contract_recipe(aroflo):
    """The test builds the string to sign from the contract's recipe by hand (no connector code involved)."""
    uencoded, pencoded, orgencoded, secret = "dXNlcg+/==", "cGFzcw==", "b3Jn LTE=", "s3cr3t-key"
    moment = datetime(2018, 7, 25, 1, 39, 57, 135000, tzinfo=timezone.utc)
    auth = api_module().AroFloHmacAuth(uencoded, pencoded, orgencoded, secret, clock=lambda: moment)
    query = api_module().build_query("users", where=["and|createdutc|>|2001-01-01"], page=1, page_size=500)
    request = signed(auth, f"https://api.aroflo.com/?{query}")

    authorization = "uencoded=dXNlcg%2B%2F%3D%3D&pencoded=cGFzcw%3D%3D&orgEncoded=b3Jn%20LTE%3D"
    var_string = "zone=users&where=and%7Ccreatedutc%7C%3E%7C2001-01-01&page=1&pageSize=500"
    to_sign = "+".join(["GET", "", "text/json", authorization, "2018-07-25T01:39:57.135Z", var_string])
    assert to_sign.startswith("GET++text/json+")
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha512).hexdigest()
    assert request.headers["Authentication"] == f"HMAC {expected}"
    assert expected == expected.lower() and len(expected) == 128
    assert request.headers["Authorization"] == authorization
    assert request.headers["Accept"] == "text/json"
    assert "HostIP" not in request.headers
    assert request.url == f"https://api.aroflo.com/?{var_string}"


def test_host_ip_is_signed_only_when_sent(aroflo):
    module = api_module()
    query = "zone=users&page=1"
    plain = signed(module.AroFloHmacAuth("u1234", "p1234", "o1234", "k1234", clock=lambda: FIXED),
                   f"https://api.aroflo.com/?{query}")
    with_ip = signed(module.AroFloHmacAuth("u1234", "p1234", "o1234", "k1234", host_ip="203.0.113.10",
                                           clock=lambda: FIXED), f"https://api.aroflo.com/?{query}")
    authorization = "uencoded=u1234&pencoded=p1234&orgEncoded=o1234"
    stamp = "2024-05-13T23:14:15.000Z"
    for request, parts in ((plain, ["GET", ""]), (with_ip, ["GET", "203.0.113.10", ""])):
        to_sign = "+".join([*parts, "text/json", authorization, stamp, query])
        assert request.headers["Authentication"] == "HMAC " + hmac.new(b"k1234", to_sign.encode(),
                                                                       hashlib.sha512).hexdigest()
    assert "HostIP" not in plain.headers and with_ip.headers["HostIP"] == "203.0.113.10"


def test_query_string_has_a_fixed_order_and_percent_encoding(aroflo):
    query = api_module().build_query(
        "suppliers", where=["and|supplierid|=|JCQ6XyRRUCAgCg==", "or|datetimeinserted|>|2024-01-02 03:04:05"],
        order=["datetimeinserted|asc"], page=3, page_size=250)
    assert query == ("zone=suppliers&where=and%7Csupplierid%7C%3D%7CJCQ6XyRRUCAgCg%3D%3D"
                     "&where=or%7Cdatetimeinserted%7C%3E%7C2024-01-02%2003%3A04%3A05"
                     "&order=datetimeinserted%7Casc&page=3&pageSize=250")


def test_the_signed_var_string_is_byte_identical_to_the_query_the_server_received(aroflo, fake_box):
    """Recompute every signature from what arrived on the wire: the raw query string and the headers."""
    fake, box, configuration = fake_box()
    from tests.harness import run_update

    run_update(aroflo, configuration)
    received = box.requests_to("aroflo")
    assert len(received) >= 10
    for request in received:
        to_sign = "+".join(["GET", "", "text/json", request.header("authorization"), request.header("afdatetimeutc"),
                            request.raw_query])
        expected = hmac.new(fake.secret_key.encode(), to_sign.encode(), hashlib.sha512).hexdigest()
        assert request.header("authentication") == f"HMAC {expected}"
        assert request.raw_query.startswith("zone=") and "%7C" in request.raw_query


@responses.activate
def test_every_attempt_is_signed_afresh_retries_included(aroflo, vtime):
    module = api_module()
    moments = iter([datetime(2024, 1, 1, 0, 0, second, tzinfo=timezone.utc) for second in range(10)])
    auth = module.AroFloHmacAuth("u1234", "p1234", "o1234", "k1234", clock=lambda: next(moments))
    client = Client(auth=auth, retry=RetryPolicy(max_attempts=3))
    api = module.ZoneApi(client, "https://api.aroflo.com", attempts=3, log=aroflo.log)
    url = "https://api.aroflo.com/?zone=users&page=1"
    responses.get(url, status=503)
    responses.get(url, json={"status": "429", "statusmessage": "Too Many Requests Per Second (max x3)"})
    responses.get(url, json={"status": "0", "statusmessage": "Login OK", "zoneresponse": {
        "users": [], "currentpageresults": 0, "maxpageresults": "500"}})
    api.get("zone=users&page=1", "zone=users page 1")
    stamps = [call.request.headers["afdatetimeutc"] for call in responses.calls]
    signatures = [call.request.headers["Authentication"] for call in responses.calls]
    assert len(stamps) == 3 and len(set(stamps)) == 3 and len(set(signatures)) == 3
    for call in responses.calls:
        to_sign = "+".join(["GET", "", "text/json", "uencoded=u1234&pencoded=p1234&orgEncoded=o1234",
                            call.request.headers["afdatetimeutc"], "zone=users&page=1"])
        assert call.request.headers["Authentication"] == "HMAC " + hmac.new(b"k1234", to_sign.encode(),
                                                                            hashlib.sha512).hexdigest()


def test_attempts_within_one_millisecond_still_get_their_own_stamp_and_signature(aroflo):
    """A retry without backoff can come in the same millisecond: the stamp moves on by one millisecond."""
    auth = api_module().AroFloHmacAuth("u1234", "p1234", "o1234", "k1234", clock=lambda: FIXED)
    requests_sent = [signed(auth, "https://api.aroflo.com/?zone=users&page=1") for _ in range(3)]
    stamps = [request.headers["afdatetimeutc"] for request in requests_sent]
    assert stamps == ["2024-05-13T23:14:15.000Z", "2024-05-13T23:14:15.001Z", "2024-05-13T23:14:15.002Z"]
    assert len({request.headers["Authentication"] for request in requests_sent}) == 3
    for request in requests_sent:
        to_sign = "+".join(["GET", "", "text/json", "uencoded=u1234&pencoded=p1234&orgEncoded=o1234",
                            request.headers["afdatetimeutc"], "zone=users&page=1"])
        assert request.headers["Authentication"] == "HMAC " + hmac.new(b"k1234", to_sign.encode(),
                                                                       hashlib.sha512).hexdigest()


def test_a_stale_timestamp_is_refused_by_the_fake_with_payload_expired(aroflo, fake_box, monkeypatch):
    fake, box, configuration = fake_box()
    module = api_module()
    real_now = module._utc_now
    from datetime import timedelta

    from tests.harness import run_update

    monkeypatch.setattr(module, "_utc_now", lambda: real_now() - timedelta(minutes=10))
    with pytest.raises(module.AuthenticationFailed, match="Payload has expired") as error:
        run_update(aroflo, configuration)
    assert "credentials are wrong" in str(error.value) and "clock" in str(error.value)
    assert re.search(r"clock is (599|600|601)s behind AroFlo's", str(error.value))  # Date has whole seconds
    assert len(box.requests_to("aroflo")) == 1  # -99999 is never retried blindly


def test_the_auth_is_read_only_and_shows_no_secret(aroflo):
    module = api_module()
    auth = module.AroFloHmacAuth("UENC-canary", "PENC-canary", "ORG-canary", "SECRET-canary", clock=lambda: FIXED)
    with pytest.raises(ValueError, match="read-only"):
        signed(auth, "https://api.aroflo.com/", method="POST")
    request = signed(auth, "https://api.aroflo.com/?zone=users")
    text = repr(auth)
    assert all(secret not in text for secret in ("UENC", "PENC", "ORG-", "SECRET"))
    signature = request.headers["Authentication"].split()[1]
    assert {"UENC-canary", "PENC-canary", "ORG-canary", "SECRET-canary", signature} <= set(auth.secret_values())


def test_a_wrong_secret_key_fails_with_both_causes_named(aroflo, fake_box):
    from tests.harness import run_update

    fake, box, configuration = fake_box(counts=SMALL)
    with pytest.raises(api_module().AuthenticationFailed) as error:
        run_update(aroflo, {**configuration, "secret_key": "not-the-secret-key"})
    message = str(error.value)
    assert "status -99999" in message and "signature mismatch" in message
    assert "Site Administration > Settings > General > AroFlo API" in message and "NTP" in message
    assert "not-the-secret-key" not in message
