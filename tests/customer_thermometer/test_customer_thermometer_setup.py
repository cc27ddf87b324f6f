"""The setup form and its test: every key on the form, and each failure turned into advice without the key."""

import socket

import responses

from sandbox.customer_thermometer import CustomerThermometerFake

SECRET = "setup-secret-key-42"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_setup_test_success_and_each_failure(ct, sandbox, sleeps):
    box = sandbox(CustomerThermometerFake(api_key=SECRET))
    good = box.configuration("customer_thermometer")
    assert ct.test_connection(good).success is True
    assert [r.arg("getMethod") for r in box.requests_to("customer_thermometer")] == ["getSendQuota"]

    bad_key = ct.test_connection({**good, "api_key": "not-the-key-123"}).failure
    assert bad_key.startswith("Customer Thermometer refused the request: getSendQuota answered an error text")
    assert "Check 'api_key'" in bad_key and "not-the-key-123" not in bad_key

    unreachable = ct.test_connection({**good, "base_url": f"http://127.0.0.1:{closed_port()}/api.php"}).failure
    assert "Could not reach Customer Thermometer" in unreachable and "'base_url'" in unreachable
    assert len(sleeps) == 1  # two attempts only: a setup test answers quickly

    wrong_path = ct.test_connection({**good, "base_url": box.url("customer_thermometer") + "/v2/api.php"}).failure
    assert "HTTP 404" in wrong_path and "'base_url'" in wrong_path

    box.faults.add("customer_thermometer", "/api.php", "status", status=403)
    refused = ct.test_connection(good).failure
    assert "refused the credentials" in refused and "Check 'api_key'" in refused

    placeholder = ct.test_connection({"api_key": "<YOUR_CUSTOMER_THERMOMETER_API_KEY>"}).failure
    assert "'api_key' still holds the template placeholder" in placeholder

    bad_date = ct.test_connection({**good, "from_date": "01/02/2024"}).failure
    assert "'from_date': expected a date as YYYY-MM-DD" in bad_date
    for failure in (bad_key, unreachable, wrong_path, refused):
        assert SECRET not in failure


@responses.activate
def test_setup_test_on_a_host_that_answers_a_web_page(ct, sleeps):
    responses.get("https://app.customerthermometer.com/api.php", body="<html><body>Sign in</body></html>",
                  content_type="text/html")
    failure = ct.test_connection({"api_key": SECRET}).failure
    assert "not in the documented format" in failure and "'base_url'" in failure and SECRET not in failure


def test_the_form_lists_every_configuration_key(ct):
    form = ct.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    assert list(fields) == ["api_key", "from_date", "lookback_days", "base_url"]
    assert fields["api_key"].required and fields["api_key"].text_field == 1  # a password field
    assert not any(fields[name].required for name in ("from_date", "lookback_days", "base_url"))
    assert all(f.label and f.description and f.placeholder for f in form.fields)
    assert fields["base_url"].placeholder == "https://app.customerthermometer.com/api.php"
    assert [(t.name, t.label) for t in form.tests] == [("test_connection", "Read the send quota with the API key")]
