"""AroFlo zone answers: throttle retries and their cap, rows under another key, a single row as an object, row
counts blank or too low, yes/no flags, and the by-id supplier reads' order."""

import pytest
import responses

from tests.aroflo.conftest import synced
from tests.aroflo.test_aroflo_signing import api_module
from tests.harness import run_update

REQUIRED = {"uencoded": "u1234", "pencoded": "p1234", "orgencoded": "o1234", "secret_key": "k1234",
            "enable_users_sync": "true", "enable_suppliers_sync": "false", "enable_payments_sync": "false"}
URL = "https://api.aroflo.com/"


def _page(rows, current="count", maximum="500", key="users") -> dict:
    response = {key: rows, "maxpageresults": maximum}
    if current is not None:
        response["currentpageresults"] = len(rows) if current == "count" else current
    return {"status": "0", "statusmessage": "Login OK", "zoneresponse": response}


@responses.activate
def test_a_throttle_that_never_ends_makes_exactly_the_configured_attempts(aroflo, vtime):
    """retry_attempts=3: one attempt and three retries, no fifth request against the per-second limit."""
    responses.get(URL, json={"status": "6", "statusmessage": "Too many requests"})
    with pytest.raises(api_module().AroFloError, match="still rate limited after 4 attempts"):
        run_update(aroflo, REQUIRED)
    assert len(responses.calls) == 4


@responses.activate
def test_a_row_count_below_the_rows_on_the_page_does_not_end_the_walk(aroflo, vtime):
    """currentpageresults smaller than the page's rows: the rows' number decides, or the walk would stop a page
    early and lose every later row."""
    responses.get(URL, json=_page([{"userid": "a"}, {"userid": "b"}], current="1", maximum="2"))
    responses.get(URL, json=_page([{"userid": "c"}], maximum="2"))
    responses.get(URL, json=_page([]))  # the created walk
    recorder, _ = run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"})
    pages = [call.request.url.split("&page=")[1] for call in responses.calls]
    assert pages == ["1&pageSize=2", "2&pageSize=2", "1&pageSize=2"]  # page 2 of the updated walk is asked
    assert [row["id"] for row in recorder.upserts("users")] == ["a", "b", "c"]


@responses.activate
def test_rows_under_another_key_than_the_zone_name_are_delivered(aroflo, vtime):
    """The contract saw zone-specific row keys such as ``items``: the one list in zoneresponse is the rows."""
    responses.get(URL, json=_page([{"userid": "a"}, {"userid": "b"}], key="items"))
    responses.get(URL, json=_page([]))
    recorder, _ = run_update(aroflo, REQUIRED)
    assert [row["id"] for row in recorder.upserts("users")] == ["a", "b"]


@responses.activate
def test_a_single_row_written_as_an_object_is_delivered(aroflo, vtime):
    """XML-to-JSON conversions write one element as an object, not a list of one."""
    responses.get(URL, json=_page({"userid": "a", "username": "solo"}, current="1"))
    responses.get(URL, json=_page([]))
    recorder, _ = run_update(aroflo, REQUIRED)
    assert [(row["id"], row["username"]) for row in recorder.upserts("users")] == [("a", "solo")]


@responses.activate
def test_a_blank_row_count_is_read_as_missing(aroflo, vtime):
    """currentpageresults "" (an empty element): the rows' number decides; not a 'not a number' failure."""
    responses.get(URL, json=_page([{"userid": "a"}], current=""))
    responses.get(URL, json=_page([], current=""))
    recorder, _ = run_update(aroflo, REQUIRED)
    assert [row["id"] for row in recorder.upserts("users")] == ["a"]


@responses.activate
def test_yes_and_no_are_read_as_flags(aroflo, vtime):
    responses.get(URL, json=_page([{"userid": "a", "archived": "Yes"}, {"userid": "b", "archived": "no"}]))
    responses.get(URL, json=_page([]))
    recorder, _ = run_update(aroflo, REQUIRED)
    rows = {row["id"]: row for row in recorder.upserts("users")}
    assert (rows["a"]["archived"], rows["b"]["archived"]) == (True, False)
    assert "archived_raw" not in rows["a"] and "archived_raw" not in rows["b"]


def test_suppliers_read_again_by_id_are_asked_in_id_order(aroflo, fake_box, vtime):
    """README: every zone query sends an explicit where and an order (ties page deterministically), the
    by-id reads of the change feed included."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false", "enable_payments_sync": "false"}
    _, state = run_update(aroflo, configuration)
    edited = [fake.make_id("SUP", n) for n in range(1, 6)]
    fake.control_update("suppliers", edited)
    vtime.now += 60
    box.requests.clear()
    second, _ = run_update(aroflo, configuration, state)
    assert set(edited) <= set(synced(second, "suppliers"))
    fetches = [r for r in box.requests_to("aroflo")
               if r.arg("zone") == "suppliers" and "|IN|" in r.arg("where")]
    assert fetches and all(r.query["order"] == ["supplierid|asc"] for r in fetches)


@responses.activate
def test_throttle_backoff_never_exceeds_a_minute_even_with_ten_retries(aroflo, vtime):
    """Backoff for status 6/429 is capped at 60 s: ten retries must not wait 40 minutes on one request."""
    responses.get(URL, json={"status": "6", "statusmessage": "Too many requests"})
    with pytest.raises(api_module().AroFloError, match="still rate limited after 11 attempts"):
        run_update(aroflo, {**REQUIRED, "retry_attempts": "10"})
    assert len(responses.calls) == 11
    assert vtime.waits and max(vtime.waits) <= 60.0, vtime.waits
