"""Courier README claims, each checked as the README states it (responses mocks at https://api.courier.com)."""
import re

import pytest
import responses

from shared.http_client import HttpError
from tests.harness import load_connector, run_update

HOST = "https://api.courier.com"


@pytest.fixture
def courier():
    return load_connector("courier")  # documented timeouts left in place


def empty_everything(messages=None):
    for path in ("brands", "audit-events", "notifications"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        responses.get(f"{HOST}/{path}", json={"items": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [], "has_more": False})
    responses.get(f"{HOST}/messages", json=messages or {"results": [], "paging": {"more": False}})


# README courier/README.md:165 "Requests time out (10 s connect, 60 s read)"
@responses.activate
def test_requests_time_out_after_10s_connect_and_60s_read(courier, sleeps):
    empty_everything()
    run_update(courier, {"api_key": "k" * 12})
    assert {c.request.req_kwargs["timeout"] for c in responses.calls} == {(10.0, 60.0)}


# README courier/README.md:185 "A 429 is retried 4 times with backoff (at most about 15 s in all without Retry-After)"
@responses.activate
def test_a_persistent_429_is_retried_4_times_within_about_15_seconds(courier, sleeps):
    responses.get(f"{HOST}/brands", status=429, body="slow down")
    with pytest.raises(HttpError, match="429"):
        run_update(courier, {"api_key": "k" * 12})
    assert len(responses.calls) == 5
    assert len(sleeps) == 4 and sum(sleeps) <= 15.0


# README courier/README.md:33 setup test "(the first page of GET /brands, with one retry at most)"
@responses.activate
def test_the_setup_test_reads_brands_with_one_retry_at_most(courier, sleeps):
    responses.get(f"{HOST}/brands", status=503)
    result = courier.test_connection({"api_key": "k" * 12})
    assert result.failure and "after 2 attempts" in result.failure
    assert [c.request.url.split("?")[0] for c in responses.calls] == [f"{HOST}/brands"] * 2


# README courier/README.md:38 refused key message
@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_the_setup_test_refused_key_message_reads_as_documented(courier, sleeps, status):
    responses.get(f"{HOST}/brands", status=status)
    failure = courier.test_connection({"api_key": "k" * 12}).failure
    assert failure.startswith("Courier refused the credentials:")
    assert ("Courier rejected the API key: check 'api_key', and that it belongs to the workspace environment "
            "(test or production) you mean to sync") in failure
    assert "k" * 12 not in failure


# README courier/README.md:14 "start_date ... the first sync of message starts at its midnight UTC";
# :120 "enqueued_after (millisecond epoch, sent as a string)"; :176 "no limit is sent to /messages"; :190 archived
@responses.activate
def test_first_sync_sends_start_dates_midnight_as_enqueued_after_and_nothing_else(courier, sleeps):
    empty_everything()
    run_update(courier, {"api_key": "k" * 12, "start_date": "2025-01-01"})
    asked = [c.request for c in responses.calls if "/messages" in c.request.url]
    assert len(asked) == 1
    assert asked[0].params == {"enqueued_after": "1735689600000"}  # 2025-01-01T00:00:00Z, no limit/archived


# README courier/README.md:50 log lines "message: reading messages enqueued after ... plus `from the saved page
# cursor` when it resumes"
@responses.activate
def test_a_resumed_walk_logs_from_the_saved_page_cursor(courier, sleeps, monkeypatch):
    import time

    from tests.conftest import ListLog
    log = ListLog()
    monkeypatch.setattr(courier, "log", log)
    empty_everything()
    state = {"message": {"watermark_ms": 1735689600000,
                         "walk": {"enqueued_after": 1735430400000, "page_token": "p2",
                                  "max_enqueued": 1735689600000, "saved_at_s": int(time.time())}}}
    run_update(courier, {"api_key": "k" * 12}, state)
    assert re.search(r"message: reading messages enqueued after \S+ from the saved page cursor", log.text()), \
        log.text()


def _scans_with_brand(brand):
    responses.get(f"{HOST}/brands", json={"results": [brand], "paging": {"more": False}})
    for path in ("audit-events", "notifications"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        responses.get(f"{HOST}/{path}", json={"items": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [], "has_more": False})
    responses.get(f"{HOST}/messages", json={"results": [], "paging": {"more": False}})


# README courier/README.md:76 "numeric text in a millisecond field is read as its number"
@responses.activate
def test_numeric_text_in_a_millisecond_field_is_read_as_its_number(courier, sleeps):
    _scans_with_brand({"id": "B1", "created": "1591753605265", "updated": " 1591753605265 "})
    recorder, _ = run_update(courier, {"api_key": "k" * 12})
    row = recorder.table("brand", ["id"])[("B1",)]
    assert row["created"] == "2020-06-10T01:46:45.265000Z"
    assert row["updated"] == "2020-06-10T01:46:45.265000Z"


# README courier/README.md:79 "The message names the table, the column, the row's key and the value (cut to 60
# characters)"
@responses.activate
def test_a_bad_value_is_quoted_cut_to_60_characters(courier, sleeps):
    from shared.parsing import PayloadError
    long_value = "x" * 200
    _scans_with_brand({"id": "B2", "created": long_value})
    with pytest.raises(PayloadError) as error:
        run_update(courier, {"api_key": "k" * 12})
    message = str(error.value)
    assert "brand.created of the row with id 'B2'" in message
    shown = message.split(" holds ", 1)[1].split(", not epoch", 1)[0]
    assert len(shown) <= 60 and shown.startswith("'" + "x" * 50), shown

