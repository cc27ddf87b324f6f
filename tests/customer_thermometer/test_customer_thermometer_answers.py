"""Customer Thermometer answers: a byte-order mark then whitespace before the XML, and metric values as sent."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.harness import run_update

HOST = "https://app.customerthermometer.com/api.php"
KEY = "k" * 12
EMPTY = {"getBlastResults": "<thermometer_blast_responses/>", "getComments": "<comments/>",
         "getRecipientLists": "<recipient_lists/>", "getThermometers": "<thermometers/>"}


def answer(bodies: dict):
    """Serve ``getMethod`` -> body (str or bytes) at the real host; lists default to an empty root, metrics to 7."""
    def callback(request):
        method = parse_qs(urlsplit(request.url).query)["getMethod"][0]
        body = bodies.get(method, EMPTY.get(method, "7"))
        return 200, {"Content-Type": "text/xml"}, body

    responses.add_callback(responses.GET, HOST, callback=callback)


@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf\n<thermometers><thermometer><id>5</id></thermometer></thermometers>",
    b"\xef\xbb\xbf  \r\n<thermometers><thermometer><id>5</id></thermometer></thermometers>\n",
], ids=["bom-newline", "bom-spaces-crlf"])
@responses.activate
def test_a_bom_then_a_line_break_before_the_xml_is_still_xml(ct, sleeps, body):
    """A byte-order mark is skipped before deciding "plain text or markup"; whitespace after it (a PHP file saved
    with a BOM and a blank line before ``<?php``) must be skipped too. xml_rows reads such a body fine."""
    answer({"getThermometers": body})
    recorder, _ = run_update(ct, {"api_key": KEY})
    assert recorder.upserts("thermometer") == [{"id": "5"}]


@responses.activate
def test_a_negative_nps_and_a_decimal_rate_are_stored_as_sent(ct, sleeps):
    """Contract: getNPSValue "can be negative" (the body may carry a leading minus sign); a rate may be a decimal.
    Neither is an error text, and neither is rounded."""
    answer({"getNPSValue": "-37", "getResponseRateValue": "42.5", "getSendQuota": "+12"})
    recorder, _ = run_update(ct, {"api_key": KEY})
    values = {row["metric"]: row["value"] for row in recorder.upserts("metric")}
    assert (values["nps"], values["response_rate"], values["send_quota"]) == (-37.0, 42.5, 12.0)
