"""Pindrop README claims, each checked as the README states it (responses mocks at the documented us2 hosts)."""
import re
from datetime import date, timedelta

import pytest
import requests
import responses

from shared.http_client import TransportError
from tests.harness import Recorder, load_connector, run_update

TODAY = date(2026, 3, 15)
TOKEN_URL = "https://auth.us2.pindrop.com/oauth2/token"
REPORT = "https://api2.us2.pindrop.com/v1/nightly_reports/{}/{}"
GOOD = {"client_id": "client-abc", "client_secret": "secret-abc-123", "report_types": "calls"}


def day(offset):
    return TODAY + timedelta(days=offset)


@pytest.fixture
def pindrop(monkeypatch):
    module = load_connector("pindrop")
    monkeypatch.setattr(module, "today_utc", lambda: TODAY)
    return module  # NOT patching __TIMEOUT_S: the documented values are under test


def token():
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})


def report_calls():
    return [c.request.url.rsplit("/", 1)[1] for c in responses.calls if "/nightly_reports/" in c.request.url]


# README pindrop/README.md:169 "Timeouts: 10 s to connect and 120 s between two reads"
@responses.activate
def test_timeouts_are_10s_connect_and_120s_read_for_token_and_reports(pindrop, sleeps):
    token()
    responses.get(REPORT.format("calls", day(-1).isoformat()), body="id,a\r\n1,x\r\n")
    responses.get(REPORT.format("calls", day(0).isoformat()), status=404)
    run_update(pindrop, {**GOOD, "start_date": day(-1).isoformat()})
    timeouts = {c.request.req_kwargs["timeout"] for c in responses.calls}
    assert timeouts == {(10.0, 120.0)}


# README pindrop/README.md:100 "A 404 (or 202/204) for that day counts as success"
@pytest.mark.parametrize("status", [202, 204])
@responses.activate
def test_setup_test_counts_202_and_204_for_the_probed_day_as_success(pindrop, sleeps, status):
    token()
    responses.get(REPORT.format("blacklist", day(-4).isoformat()), status=status, body="")
    result = pindrop.test_connection({"client_id": "c", "client_secret": "s"})
    assert result.success is True, result.failure
    assert report_calls() == [day(-4).isoformat()]


# README pindrop/README.md:189 "A report type that is always empty costs extra requests: each sync asks again for
# its recent empty days, up to missing_report_grace_days + 1 of them (4 at the defaults)."
@responses.activate
def test_an_always_empty_type_costs_grace_plus_one_requests_per_sync(pindrop, sleeps):
    token()
    responses.get(re.compile(REPORT.format("calls", r"\d{4}-\d{2}-\d{2}")), body="id,a\r\n")
    _, state = run_update(pindrop, {**GOOD, "start_date": day(-10).isoformat()})
    responses.calls.reset()
    _, state = run_update(pindrop, {**GOOD, "start_date": day(-10).isoformat()}, state)
    assert sorted(report_calls()) == [day(o).isoformat() for o in (-3, -2, -1, 0)]


# README pindrop/README.md:194 "a host that stays unreachable fails after its request's own 5 attempts (the
# download is not repeated on top of them)"; :159 "...timeouts and resets after 5 attempts"
@responses.activate
def test_an_unreachable_report_host_fails_after_exactly_5_attempts(pindrop, sleeps):
    token()
    responses.get(REPORT.format("calls", day(0).isoformat()),
                  body=requests.exceptions.ConnectionError("refused"))
    failed = Recorder()
    with pytest.raises(TransportError):
        run_update(pindrop, {**GOOD, "start_date": day(0).isoformat()}, recorder=failed)
    assert report_calls() == [day(0).isoformat()] * 5


# README pindrop/README.md:77 "e.g. configuration key 'lookback_days': expected an integer from 0 to 3650"
def test_lookback_error_reads_as_documented(pindrop):
    from shared.config import ConfigError
    with pytest.raises(ConfigError, match=re.escape("configuration key 'lookback_days': expected an integer "
                                                    "from 0 to 3650")):
        pindrop.validate_configuration({**GOOD, "lookback_days": "3651"})


# README pindrop/README.md:158 "A compressed body that does not decompress is downloaded again, like one cut off
# mid-read."
@responses.activate
def test_a_compressed_report_that_does_not_decompress_is_downloaded_again(pindrop, sleeps):
    import gzip
    token()
    url = REPORT.format("calls", day(0).isoformat())
    responses.get(url, body=b"this is not gzip", headers={"Content-Encoding": "gzip"}, content_type="text/csv")
    responses.get(url, body=gzip.compress(b"id,a\r\n1,x\r\n2,y\r\n"), headers={"Content-Encoding": "gzip"},
                  content_type="text/csv")
    recorder, state = run_update(pindrop, {**GOOD, "start_date": day(0).isoformat()})
    assert report_calls() == [day(0).isoformat()] * 2
    assert {k[1] for k in recorder.table("calls", ["report_date", "id"])} == {"1", "2"}
    assert state["calls"]["last_day_delivered"] == day(0).isoformat()
