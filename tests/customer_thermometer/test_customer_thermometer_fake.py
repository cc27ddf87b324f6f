"""The fake itself behaves like the contract says the API does (so the connector tests mean something)."""

import requests

from sandbox.customer_thermometer import API_KEY, CustomerThermometerFake


def get(box, **params) -> requests.Response:
    return requests.get(box.url("customer_thermometer") + "/api.php", params={"apiKey": API_KEY, **params}, timeout=5)


def test_without_limit_only_the_latest_200_rows_come_back(sandbox):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    body = get(box, getMethod="getBlastResults").text
    assert body.count("<thermometer_blast_response>") == 200
    assert fake.responses[-1]["response_id"] in body and fake.responses[0]["response_id"] not in body
    assert get(box, getMethod="getBlastResults", limit="5000").text.count("<response_id>") == len(fake.responses)


def test_dates_filter_whole_days_inclusively_and_the_busy_day_is_fuller_than_a_limit(sandbox):
    box = sandbox(CustomerThermometerFake(busy_day_rows=300))
    day = get(box, getMethod="getComments", fromDate="2024-03-15", toDate="2024-03-15", limit="1000").text
    assert day.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<comments><comment>')
    assert day.count("<date_submitted>2024-03-15 ") == day.count("<response_id>") > 100
    assert get(box, getMethod="getBlastResults", fromDate="1990-01-01", toDate="1990-12-31").text == \
        "<thermometer_blast_responses/>"


def test_a_wrong_key_gets_plain_text_and_metrics_are_bare_numbers(sandbox):
    box = sandbox(CustomerThermometerFake())
    refused = requests.get(box.url("customer_thermometer") + "/api.php",
                           params={"apiKey": "nope", "getMethod": "getThermometers"}, timeout=5)
    assert refused.status_code == 200 and refused.text == "Error: the API key 'nope' is not valid"
    assert get(box, getMethod="getSendQuota").text == "4321"
    nps = get(box, getMethod="getNPSValue", fromDate="2019-01-01", toDate="2026-06-30", limit="100000").text
    assert nps.lstrip("-").isdigit()
    assert get(box, getMethod="sendEmail").text.startswith("Error: unknown or unsupported method")
