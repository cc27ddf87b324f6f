"""The documented shapes at the real host (``responses`` mocks): XML parsing, typing and flattening."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from shared.parsing import PayloadError
from tests.harness import Recorder, run_update

HOST = "https://app.customerthermometer.com/api.php"
KEY = "k" * 12
EMPTY = {"getBlastResults": "<thermometer_blast_responses/>", "getComments": "<comments/>",
         "getRecipientLists": "<recipient_lists/>", "getThermometers": "<thermometers/>"}

BLAST_RESULT = """<?xml version="1.0" encoding="UTF-8"?>
<thermometer_blast_responses>
  <thermometer_blast_response>
    <response_id>88001</response_id>
    <response_date>2024-01-31 13:45:00</response_date>
    <response>Green</response>
    <temperature_id>2</temperature_id>
    <recipient>jane@example.com</recipient>
    <company>Smith &amp; Sons</company>
    <comment></comment>
    <blast_id>900</blast_id>
    <thermometer_id>12</thermometer_id>
    <response_bounced>0</response_bounced>
    <comment_hidden>1</comment_hidden>
    <blast_date>0000-00-00 00:00:00</blast_date>
    <custom_1>ticket-1</custom_1>
    <location><city>Leeds</city><country code="GB">United Kingdom</country></location>
    <tags><tag>a</tag><tag>b</tag></tags>
  </thermometer_blast_response>
  <thermometer_blast_response>
    <response_id>88002</response_id>
    <response_date>2024-02-01T08:00:00+02:00</response_date>
    <blast_date>2024-01-30</blast_date>
    <response_bounced>1</response_bounced>
  </thermometer_blast_response>
</thermometer_blast_responses>"""


def answer(bodies: dict):
    """Serve ``getMethod`` -> body (str) at the real host; lists default to an empty root, metrics to 7."""
    def callback(request):
        method = parse_qs(urlsplit(request.url).query)["getMethod"][0]
        body = bodies.get(method, EMPTY.get(method, "7"))
        return (200, {"Content-Type": "text/xml" if body.startswith("<") else "text/plain"}, body)

    responses.add_callback(responses.GET, HOST, callback=callback)


def queries() -> list[dict]:
    return [{k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()} for call in responses.calls]


@responses.activate
def test_the_real_host_is_the_default_and_every_call_carries_the_key_and_a_method(ct, sleeps):
    answer({})
    recorder, state = run_update(ct, {"api_key": KEY})
    assert all(call.request.url.startswith(HOST + "?") for call in responses.calls)
    assert all(q["apiKey"] == KEY for q in queries())
    windowed = [q for q in queries() if q["getMethod"] in ("getBlastResults", "getComments")]
    assert [(q["fromDate"], q["toDate"], q["limit"]) for q in windowed] == [("1970-01-01", "2026-07-03", "10000")] * 2
    assert not any("endDate" in q for q in queries())
    assert len(recorder.upserts("metric")) == 6 and recorder.upserts("blast_result") == []
    assert state["blast_result"] == {"cursor": "2026-06-29"}


@responses.activate
def test_nested_elements_are_flattened_and_flags_and_dates_typed(ct, sleeps):
    answer({"getBlastResults": BLAST_RESULT})
    recorder, _ = run_update(ct, {"api_key": KEY})
    rows = recorder.table("blast_result", ["response_id"])
    first, second = rows[("88001",)], rows[("88002",)]
    assert first["response_date"] == "2024-01-31T13:45:00.000000Z"  # no offset given: taken as UTC
    assert second["response_date"] == "2024-02-01T06:00:00.000000Z"  # an offset is converted
    assert first["blast_date"] is None  # MySQL's zero date
    assert second["blast_date"] == "2024-01-30T00:00:00.000000Z"  # a date alone: midnight UTC
    assert (first["response_bounced"], first["comment_hidden"], second["response_bounced"]) == (False, True, True)
    assert first["company"] == "Smith & Sons" and first["comment"] is None
    assert first["location_city"] == "Leeds"
    assert first["location_country_code"] == "GB" and first["location_country_text"] == "United Kingdom"
    assert first["tags_tag"] == '["a","b"]'  # repeated elements: a JSON list
    assert first["temperature_id"] == "2" and first["response_id"] == "88001"


@responses.activate
def test_a_single_row_and_a_row_with_a_bom_are_read(ct, sleeps):
    answer({"getThermometers": "\ufeff<thermometers><thermometer><id>5</id><name>NPS</name></thermometer>"
                               "</thermometers>",
            "getRecipientLists": "  \n  "})  # whitespace only: no rows
    recorder, _ = run_update(ct, {"api_key": KEY})
    assert recorder.upserts("thermometer") == [{"id": "5", "name": "NPS"}]
    assert recorder.upserts("recipient_list") == []


@pytest.mark.parametrize("body, message", [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY big "boom">]><thermometers><thermometer><id>&big;</id>'
     "</thermometer></thermometers>", "body is not the expected XML (a DTD or entity declarations, which are "
                                         "refused); it starts with '<?xml version=\"1.0\"?><!DOCTYPE x"),
    ('<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head></html>',  # a proxy's sign-in page
     "it starts with '<!DOCTYPE html> <html><head><title>Sign in to continue"),
    ("<error><message>Invalid API Key</message></error>", "XML root is <error>, expected <thermometers>"),
    ("<thermometers><item><id>1</id></item></thermometers>", "holds <item>, expected <thermometer> rows"),
    ("<thermometers><thermometer><name>no id</name></thermometer></thermometers>", "a row has no id"),
    ("<thermometers><thermometer><id>1</id>", "body is not the expected XML"),
    ("Invalid API Key", "getThermometers answered an error text instead of XML: 'Invalid API Key'"),
])
@responses.activate
def test_anything_but_the_documented_xml_fails_the_sync(ct, sleeps, body, message):
    answer({"getThermometers": body})
    failed = Recorder()
    with pytest.raises(PayloadError, match=re.escape(message)):
        run_update(ct, {"api_key": KEY}, recorder=failed)
    assert failed.operations == []  # nothing emitted, nothing checkpointed


@responses.activate
def test_a_value_that_cannot_be_typed_is_kept_as_text_and_the_row_delivered(ct, sleeps, log, monkeypatch):
    """Formats are unconfirmed: an odd flag or date costs neither the row nor the sync. The typed column is null,
    the source's text goes to <column>_raw, and the log says so once per column."""
    monkeypatch.setattr(ct, "log", log)
    rows = "".join(f"<thermometer_blast_response><response_id>{n}</response_id><response_bounced>{flag}"
                   f"</response_bounced><response_date>{day}</response_date></thermometer_blast_response>"
                   for n, flag, day in ((1, "yes", "31/01/2024"), (2, "0", "2024-01-31 10:00:00"),
                                        (3, "maybe", "01/02/2024")))
    answer({"getBlastResults": f"<thermometer_blast_responses>{rows}</thermometer_blast_responses>"})
    recorder, _ = run_update(ct, {"api_key": KEY})
    got = {row["response_id"]: row for row in recorder.upserts("blast_result")}
    assert set(got) == {"1", "2", "3"}
    assert (got["1"]["response_bounced"], got["1"]["response_bounced_raw"]) == (None, "yes")
    assert (got["1"]["response_date"], got["1"]["response_date_raw"]) == (None, "31/01/2024")
    assert got["2"]["response_date"] == "2024-01-31T10:00:00.000000Z" and "response_date_raw" not in got["2"]
    assert got["2"]["response_bounced"] is False
    warnings = [message for level, message in log.lines if level == "WARNING" and "_raw" in message]
    assert sorted(w.split(":")[0] for w in warnings) == ["blast_result.response_bounced",
                                                          "blast_result.response_date"]
    assert "'31/01/2024' is not a date or date-time" in " ".join(warnings)


@responses.activate
def test_a_metric_body_with_a_bom_and_a_newline_is_a_number(ct, sleeps):
    answer({"getNPSValue": "\ufeff-12\r\n", "getSendQuota": " 250\n"})
    recorder, _ = run_update(ct, {"api_key": KEY})
    values = {row["metric"]: row["value"] for row in recorder.upserts("metric")}
    assert (values["nps"], values["send_quota"], values["happiness"]) == (-12.0, 250.0, 7.0)


@responses.activate
def test_a_configured_base_url_is_used_as_given(ct, sleeps):
    responses.add_callback(responses.GET, "https://eu.example.com/ct/api.php",
                           callback=lambda request: (200, {}, "7" if "Value" in request.url or "Quota" in request.url
                                                     else ""))
    run_update(ct, {"api_key": KEY, "base_url": "https://eu.example.com/ct/api.php"})
    assert len(responses.calls) == 10


@responses.activate
def test_rows_dated_days_after_their_window_warn_that_the_filter_may_be_on_the_blast_date(ct, sleeps):
    """Whether fromDate/toDate filter the response date or the blast date is unconfirmed. Under a response-date
    filter no row can be dated after its window (plus a day for time zones); one that is shows a blast-date
    filter, under which answers arriving after the lookback would be missed: the log says what to change."""
    def blast_date_filter(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if query["getMethod"] != "getBlastResults":
            body = EMPTY.get(query["getMethod"], "7")
        elif query["fromDate"] <= "2026-05-01" <= query["toDate"]:  # a blast of 1 May, answered on 20 May
            body = BLAST_RESULT.replace("2024-01-31 13:45:00", "2026-05-20 08:00:00")
        else:
            body = EMPTY["getBlastResults"]
        return 200, {"Content-Type": "text/xml" if body.startswith("<") else "text/plain"}, body

    responses.add_callback(responses.GET, HOST, callback=blast_date_filter)
    recorder, _ = run_update(ct, {"api_key": KEY}, {"blast_result": {"cursor": "2026-04-28", "window_days": 5}})
    assert "88001" in {row["response_id"] for row in recorder.upserts("blast_result")}
    warnings = [line for level, line in ct.log.lines if level == "WARNING" and "filter by blast date" in line]
    assert len(warnings) == 1 and "response_date is days after the window" in warnings[0]
    assert "Set lookback_days to how long your surveys collect answers" in warnings[0]


@responses.activate
def test_rows_inside_their_window_give_no_filter_warning(ct, sleeps):
    answer({"getBlastResults": BLAST_RESULT})  # 2024-01-31, inside the one window asked for
    run_update(ct, {"api_key": KEY})
    assert not any("filter by blast date" in line for _, line in ct.log.lines)
