"""Customer Thermometer README claims, each checked as the README states it (responses at the documented host)."""
import re
from datetime import datetime, timezone

import pytest
import responses

from tests.harness import load_connector, run_update

URL = "https://app.customerthermometer.com/api.php"
NOW = datetime(2026, 7, 2, 9, 30, tzinfo=timezone.utc)
ROOTS = {"getThermometers": "<thermometers/>", "getRecipientLists": "<recipient_lists/>",
         "getBlastResults": "<thermometer_blast_responses/>", "getComments": "<comments/>"}


@pytest.fixture
def ct(monkeypatch):
    module = load_connector("customer_thermometer")
    monkeypatch.setattr(module, "utc_now", lambda: NOW)
    return module  # documented timeouts left in place


def answer(request):
    method = re.search(r"getMethod=(\w+)", request.url).group(1)
    return 200, {}, ROOTS.get(method, "12")


# README customer_thermometer/README.md:88 "timeouts (10 s to connect, 120 s between two reads ...)"
@responses.activate
def test_every_call_has_a_10s_connect_and_120s_read_timeout(ct, sleeps):
    responses.add_callback(responses.GET, URL, callback=answer)
    run_update(ct, {"api_key": "k" * 16})
    assert {c.request.req_kwargs["timeout"] for c in responses.calls} == {(10.0, 120.0)}
    assert ct.test_connection({"api_key": "k" * 16}).success
    assert responses.calls[-1].request.req_kwargs["timeout"] == (10.0, 120.0)


# README customer_thermometer/README.md:31 "HTTP 401/403: refused the credentials"
@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_the_setup_test_names_refused_credentials_on_401_and_403(ct, sleeps, status):
    responses.get(URL, status=status, body="denied")
    failure = ct.test_connection({"api_key": "k" * 16}).failure
    assert "refused the credentials" in failure and "Check 'api_key'" in failure and "k" * 16 not in failure
    assert len(responses.calls) == 1  # not retried
