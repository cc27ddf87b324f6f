"""The API key travels in the query string: it must never reach a log line, an exception or printed output."""

import re
import socket
import traceback

import pytest
import requests
from fivetran_connector_sdk import Logging

from sandbox.customer_thermometer import CustomerThermometerFake
from shared.config import ConfigError
from shared.http_client import HttpError, TransportError
from shared.parsing import PayloadError
from tests.harness import run_update

CANARY = "CANARY-ct-key-9f8e7d6c"

# Every fault the sandbox injects, persistent so that the sync fails and its exception can be inspected.
FAULTS = [
    ("status", {"status": 429, "retry_after": "1"}, HttpError),
    ("status", {"status": 500}, HttpError), ("status", {"status": 502}, HttpError),
    ("status", {"status": 503}, HttpError),
    ("slow", {"delay_s": 0.6}, TransportError),  # beyond the 0.3 s read timeout
    ("reset", {}, TransportError), ("truncate", {}, TransportError),
    ("malformed", {}, PayloadError), ("expired_token", {}, HttpError),
]


@pytest.fixture
def printing(ct, monkeypatch):
    """The SDK's own Logging, printing INFO and above to stdout, as in `fivetran debug`."""
    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.INFO)
    monkeypatch.setattr(ct, "log", Logging)
    monkeypatch.setattr(ct, "__TIMEOUT_S", (2.0, 0.3))
    return ct


def everything_said(error: BaseException, capfd) -> str:
    captured = capfd.readouterr()
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error)), captured.out,
                      captured.err])


@pytest.mark.parametrize("fault, options, raised, nth",  # the calls: getThermometers, getBlastResults, getSendQuota
                         [(*f, nth) for f in FAULTS for nth in ((3,) if f[0] == "slow" else (1, 3, 10))])
def test_no_fault_shows_the_key(printing, sandbox, sleeps, capfd, fault, options, raised, nth):
    box = sandbox(CustomerThermometerFake(api_key=CANARY))
    box.faults.add("customer_thermometer", "/api.php", "status", nth=1, status=503)  # one retry logged first
    box.faults.add("customer_thermometer", "/api.php", fault, nth=nth, times=None, **options)
    with pytest.raises(raised) as error:
        run_update(printing, box.configuration("customer_thermometer"))
    said = everything_said(error.value, capfd)
    assert "retry" in said  # the retry warnings were printed, and the failure with its traceback
    assert CANARY not in said


def test_a_plain_text_error_that_echoes_the_key_is_redacted(printing, sandbox, sleeps, capfd):
    box = sandbox(CustomerThermometerFake())  # expects another key: answers "the API key '<given>' is not valid"
    echoed = requests.get(box.url("customer_thermometer") + "/api.php", params={"apiKey": CANARY}, timeout=5)
    assert CANARY in echoed.text
    with pytest.raises(PayloadError) as error:
        run_update(printing, {**box.configuration("customer_thermometer"), "api_key": CANARY})
    said = everything_said(error.value, capfd)
    assert "is not valid" in said and CANARY not in said


def test_a_refused_connection_does_not_show_the_url_with_the_key(printing, sleeps, capfd):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api.php"
    with pytest.raises(requests.ConnectionError) as raw:  # what requests itself says: the URL, key and all
        requests.get(url, params={"apiKey": CANARY}, timeout=2)
    assert CANARY in str(raw.value)
    with pytest.raises(TransportError, match="Connection refused|Failed to establish") as error:
        run_update(printing, {"api_key": CANARY, "base_url": url})
    said = everything_said(error.value, capfd)
    assert "getThermometers failed after 5 attempts" in said and CANARY not in said


def test_a_metric_error_text_is_redacted(printing, sandbox, sleeps, capfd):
    fake = CustomerThermometerFake(api_key=CANARY)
    fake.control_break("getHappinessValue", body=f"Error: key {CANARY} has no access to metrics")
    box = sandbox(fake)
    with pytest.raises(PayloadError, match=r"getHappinessValue .* 'Error: key \*\*\* has no access") as error:
        run_update(printing, box.configuration("customer_thermometer"))
    assert CANARY not in everything_said(error.value, capfd)


@pytest.mark.parametrize("base_url, message", [
    (f"https://app.customerthermometer.com/api.php?apiKey={CANARY}&getMethod=getThermometers",
     "'base_url': expected the API request URL without a query string"),
    (f"https://app.customerthermometer.com/api.php#{CANARY}", "'base_url': expected an https URL"),
])
def test_a_key_pasted_into_base_url_is_never_quoted(ct, base_url, message):
    """The account's "API request URL" may be copied with the key in it: neither the sync nor the setup test
    repeats it."""
    configuration = {"api_key": CANARY, "base_url": base_url}
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        ct.validate_configuration(configuration)
    failure = ct.test_connection(configuration).failure
    assert message in failure
    for text in (str(error.value), "".join(traceback.format_exception(error.value)), failure):
        assert CANARY not in text


def test_settings_and_auth_never_show_the_key(ct):
    settings = ct.validate_configuration({"api_key": CANARY})
    client = ct.new_client(settings)
    assert CANARY not in repr(settings) + repr(client.auth)
