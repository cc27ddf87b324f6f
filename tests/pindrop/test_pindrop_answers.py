"""What each answer of the production hosts means (``responses`` mocks at the documented us2 defaults): which
answers are "no report", which are errors, and that no error ever passes a day."""

import re

import pytest
import responses

from shared.http_client import HttpError
from shared.parsing import PayloadError
from tests.harness import Recorder, run_update
from tests.pindrop.conftest import day

TOKEN_URL = "https://auth.us2.pindrop.com/oauth2/token"
REPORT_URL = "https://api2.us2.pindrop.com/v1/nightly_reports/calls/{}"
GOOD = {"client_id": "client-abc", "client_secret": "secret-abc-123", "report_types": "calls"}
CSV = "id,ani\r\nc-1,+15550001\r\nc-2,+15550002\r\n"


def token(**options):
    responses.post(TOKEN_URL, json={"access_token": "prod-token-1", "expires_in": 3600}, **options)


def report(offset: int, body: str = CSV, **options):
    responses.get(REPORT_URL.format(day(offset).isoformat()), body=body, **options)


def report_calls() -> list[str]:
    return [c.request.url.rsplit("/", 1)[1] for c in responses.calls if "/nightly_reports/" in c.request.url]


@responses.activate(assert_all_requests_are_fired=False)
def test_a_token_endpoint_answering_404_fails_the_sync_instead_of_passing_every_day(pindrop, sleeps):
    responses.post(TOKEN_URL, status=404, body="no such path")
    responses.get(re.compile(REPORT_URL.format(r"\d{4}-\d{2}-\d{2}")), body=CSV)
    failed = Recorder()
    with pytest.raises(HttpError, match=re.escape(f"token request to {TOKEN_URL} returned HTTP 404")):
        run_update(pindrop, {**GOOD, "start_date": day(-10).isoformat()}, recorder=failed)
    assert failed.checkpoints == [] and report_calls() == []
    failure = pindrop.test_connection(GOOD).failure
    assert "HTTP 404" in failure and "Check 'token_url' and 'base_url'" in failure


@responses.activate
def test_a_404_from_the_token_endpoint_on_renewal_is_not_a_missing_report(pindrop, sleeps):
    token()
    responses.post(TOKEN_URL, status=404, body="gone")  # the renewal after the 401
    report(-6)
    report(-5, body="", status=401)
    failed = Recorder()
    with pytest.raises(HttpError, match="token request .* returned HTTP 404"):
        run_update(pindrop, {**GOOD, "start_date": day(-6).isoformat()}, recorder=failed)
    assert failed.checkpoints[-1] == {"calls": {"last_day_delivered": day(-6).isoformat()}}


@responses.activate
def test_202_and_204_count_as_no_report_with_the_grace_rule(pindrop, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    token()
    report(-5, body="", status=202)  # older than the 3-day grace: passed as missing
    report(-4)
    report(-3)
    report(-2, body="", status=204)  # within the grace window: not generated yet, the type stops
    recorder, state = run_update(pindrop, {**GOOD, "start_date": day(-5).isoformat()})
    assert report_calls() == [day(n).isoformat() for n in (-5, -4, -3, -2)]
    assert state == {"calls": {"last_day_delivered": day(-3).isoformat()}}
    assert {row["report_date"] for row in recorder.upserts("calls")} == {day(-4).isoformat(), day(-3).isoformat()}
    assert f"calls: no report for {day(-5)} (HTTP 202, older than 3 days); passed as missing" in log.text()
    assert f"calls: the report for {day(-2)} is not generated yet (HTTP 204)" in log.text()
    assert pindrop.test_connection({**GOOD, "missing_report_grace_days": "4"}).success is True  # day -5: 202


@pytest.mark.parametrize("content_type, body", [
    ("application/json", '{"status": "pending", "message": "Report is being generated"}'),
    ("text/html; charset=utf-8", "<html><body>Sign in</body></html>"),
])
@responses.activate
def test_a_json_or_html_answer_is_an_error_not_an_empty_report(pindrop, sleeps, content_type, body):
    token()
    report(-6)
    report(-5, body=body, content_type=content_type)
    failed = Recorder()
    with pytest.raises(PayloadError, match=re.escape(f"calls report for {day(-5)}: the answer is {content_type}, "
                                                     f"not a CSV report; it starts with '{body[:15]}")):
        run_update(pindrop, {**GOOD, "start_date": day(-6).isoformat()}, recorder=failed)
    assert failed.checkpoints[-1] == {"calls": {"last_day_delivered": day(-6).isoformat()}}
    failure = pindrop.test_connection({**GOOD, "missing_report_grace_days": "4"}).failure  # opens day -5
    assert "not in the documented format" in failure and content_type in failure


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/csv", "application/octet-stream"])
@pytest.mark.parametrize("body, looks_like", [
    ("<!DOCTYPE html>\n<html>\n<head><title>Sign in</title></head>\n<body>\nSign in\n</body>\n</html>\n",
     "HTML or XML"),
    ('{"status": "pending"}', "JSON"),
    ('\ufeff  [{"error": "not ready"}]', "JSON"),
])
@responses.activate
def test_a_page_or_notice_labelled_as_anything_else_is_still_not_a_report(pindrop, sleeps, content_type, body,
                                                                         looks_like):
    """A proxy's sign-in page sent as text/plain (or with no type) parsed as CSV gave one row per HTML line, and
    a JSON notice a header without rows: the day passed as delivered. The start of the body decides."""
    token()
    report(-6)
    responses.get(REPORT_URL.format(day(-5).isoformat()), body=body.encode(),
                  **({"content_type": content_type} if content_type else {"headers": {"Content-Type": ""}}))
    failed = Recorder()
    with pytest.raises(PayloadError, match=re.escape(f"calls report for {day(-5)}: body is {looks_like}, not CSV; "
                                                     "it starts with")):
        run_update(pindrop, {**GOOD, "start_date": day(-6).isoformat()}, recorder=failed)
    assert {row["report_date"] for row in failed.upserts("calls")} == {day(-6).isoformat()}
    assert failed.checkpoints[-1] == {"calls": {"last_day_delivered": day(-6).isoformat()}}


@responses.activate
def test_a_mislabelled_notice_for_a_recent_day_is_not_ready_like_a_labelled_one(pindrop, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    token()
    report(-2)
    report(-1, body='{"status": "pending"}', content_type="text/plain")
    recorder, state = run_update(pindrop, {**GOOD, "start_date": day(-2).isoformat()})
    assert state["calls"] == {"last_day_delivered": day(-2).isoformat()}
    assert f"calls: the report for {day(-1)} is not generated yet (JSON ('{{\"status\": \"pending\"}}'))" in log.text()


@responses.activate
def test_a_pending_notice_for_a_recent_day_stops_the_type_like_a_404_and_the_other_types_sync(pindrop, sleeps, log,
                                                                                              monkeypatch):
    """Whether Pindrop answers a report still being generated with a 200 "pending" body is unconfirmed. For a day
    inside the grace window it means "not ready": failing would fail every sync of the day and starve the types
    after this one. An older day cannot be pending (see the test above: an error)."""
    monkeypatch.setattr(pindrop, "log", log)
    token()
    report(-2)
    report(-1, body='{"status": "pending"}', content_type="application/json")
    audit = "https://api2.us2.pindrop.com/v1/nightly_reports/audit/{}"
    for offset in (-2, -1, 0):
        responses.get(audit.format(day(offset).isoformat()), body="id,action\r\na-1,login\r\n")
    recorder, state = run_update(pindrop, {**GOOD, "report_types": "calls,audit",
                                           "start_date": day(-2).isoformat()})
    assert state["calls"] == {"last_day_delivered": day(-2).isoformat()}
    assert state["audit"] == {"last_day_delivered": day(0).isoformat()}
    assert len(recorder.upserts("audit")) == 3
    assert f"calls: the report for {day(-1)} is not generated yet (application/json" in log.text()


@responses.activate
def test_a_report_in_the_charset_its_content_type_names_is_decoded_in_it(pindrop, sleeps):
    token()
    responses.get(REPORT_URL.format(day(-1).isoformat()), body="id,caller\r\nc-1,Jos\xe9\r\n".encode("latin-1"),
                  content_type="text/csv; charset=ISO-8859-1")
    report(0, body="id,caller\r\nc-2,Zo\u00eb\r\n", content_type="text/csv")  # no charset: UTF-8
    recorder, _ = run_update(pindrop, {**GOOD, "start_date": day(-1).isoformat()})
    assert [row["caller"] for row in recorder.upserts("calls")] == ["Jos\u00e9", "Zo\u00eb"]


@responses.activate
def test_csv_under_any_other_content_type_and_an_empty_body_are_reports(pindrop, sleeps):
    token()
    report(-3, content_type="application/octet-stream")
    report(-2, body="")  # an empty 200: a report with no rows (the public client reads it so), asked for again
    report(-1, content_type="text/plain")
    report(0, body="", status=404)
    recorder, state = run_update(pindrop, {**GOOD, "start_date": day(-3).isoformat()})
    assert state == {"calls": {"last_day_delivered": day(-1).isoformat(), "empty_days": [day(-2).isoformat()]}}
    assert [row["report_date"] for row in recorder.upserts("calls")] == [day(n).isoformat() for n in (-3, -3, -1, -1)]
