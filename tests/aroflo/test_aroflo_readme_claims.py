"""AroFlo README claims, each checked as the README states it."""
import pytest
import responses

from tests.harness import load_connector, run_update


def zones(box):
    return [r.arg("zone") for r in box.requests_to("aroflo")]


# README aroflo/README.md:295 "A sync with no changes costs 5 requests (two user walks, suppliers, the LastUpdate
# feed, payments) plus the pages of the 7-day payment window"
def test_a_sync_with_no_changes_costs_two_user_walks_suppliers_the_feed_and_the_payment_window(aroflo, fake_box,
                                                                                               vtime):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "max_records_per_page": "500"}
    _, state = run_update(aroflo, configuration)
    vtime.now += 60
    box.requests.clear()
    run_update(aroflo, configuration, state)
    asked = zones(box)
    assert asked.count("users") == 2 and asked.count("suppliers") == 1 and asked.count("lastupdate") == 1
    assert asked.count("payments") >= 1 and len(asked) == 4 + asked.count("payments"), asked
    assert asked.count("payments") == 1  # SMALL has 230 payments in all: the 7-day window is one page


# README aroflo/README.md:42 "request_timeout_seconds ... Read timeout per request (connect timeout: at most 10 s)"
@pytest.mark.parametrize("setting, expected", [(None, (10.0, 30)), ("5", (5, 5)), ("600", (10.0, 600))])
@responses.activate
def test_connect_timeout_is_at_most_10s_and_the_read_timeout_is_the_setting(setting, expected, monkeypatch):
    module = load_connector("aroflo")
    monkeypatch.setattr(module, "new_rate_limiter", lambda: None)
    responses.get("https://api.aroflo.com/", json={"status": "0", "statusmessage": "Login OK",
                                                   "zoneresponse": {"lastupdate": []}})
    configuration = {"uencoded": "u", "pencoded": "p", "orgencoded": "o", "secret_key": "s"}
    if setting:
        configuration["request_timeout_seconds"] = setting
    assert module.test_connection(configuration).success
    assert [call.request.req_kwargs["timeout"] for call in responses.calls] == [expected]


# README aroflo/README.md:43 "retry_attempts 0-10 retries after a network failure, HTTP 408/429/5xx (but 501 and 505)"
@pytest.mark.parametrize("retries, attempts", [("0", 1), ("3", 4), ("10", 11)])
@responses.activate
def test_retry_attempts_is_the_number_of_retries_after_a_5xx(retries, attempts, monkeypatch):
    from shared import http_client
    monkeypatch.setattr(http_client, "sleep", lambda s: None)
    module = load_connector("aroflo")
    monkeypatch.setattr(module, "new_rate_limiter", lambda: None)
    responses.get("https://api.aroflo.com/", status=503, body="busy")
    configuration = {"uencoded": "u", "pencoded": "p", "orgencoded": "o", "secret_key": "s",
                     "retry_attempts": retries, "enable_suppliers_sync": "false", "enable_payments_sync": "false"}
    with pytest.raises(Exception, match="503"):
        run_update(module, configuration)
    assert len(responses.calls) == attempts
