"""Xurrent under faults: transient failures on every route, persistent and malformed answers, odd pages."""

import time
from email.utils import formatdate

import pytest
import responses

from sandbox.xurrent import ACCOUNT, XurrentFake
from shared.http_client import HttpError, TransportError
from shared.pagination import PaginationError
from shared.parsing import PayloadError
from tests.harness import Recorder, run_update

TABLES = ("organizations", "products", "projects")
HOST = "https://api.xurrent.com/v1"
CONFIGURATION = {"account_id": ACCOUNT, "oauth_token": "pat-0123456789abcdef"}


@pytest.fixture
def quick_timeouts(xurrent, monkeypatch):
    """A read timeout of 0.3 s, so a 'slow' fault times out without a 10 s wait."""
    class QuickClient(xurrent.Client):
        def __init__(self, **options):
            super().__init__(**{**options, "timeout_s": (1.0, 0.3)})

    monkeypatch.setattr(xurrent, "Client", QuickClient)


FAULTS = [
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}),
    ("status", {"status": 429, "retry_after": 3}), ("status", {"status": 429, "retry_after": "http-date"}),
    ("reset", {}), ("truncate", {}), ("slow", {"delay_s": 0.6}),
]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("kind, options", FAULTS, ids=lambda v: str(v))
def test_transient_faults_on_every_route_still_deliver_every_row(xurrent, sandbox, sleeps, quick_timeouts, table,
                                                                 kind, options):
    if options.get("retry_after") == "http-date":
        options = {**options, "retry_after": formatdate(time.time() + 5, usegmt=True)}
    fake = XurrentFake()
    box = sandbox(fake)
    box.faults.add("xurrent", f"/v1/{table}", kind, nth=2, **options)
    recorder, state = run_update(xurrent, box.configuration("xurrent"))
    for name in TABLES:
        assert {row["id"] for row in recorder.upserts(name)} == fake.ids(name), name
        assert len(recorder.upserts(name)) == len(fake.ids(name)), f"{name}: a row arrived twice"
    assert set(state) == set(TABLES)
    if kind == "status" and options["status"] == 429:
        assert 0 < max(sleeps) <= 6


def test_an_expired_token_mid_sync_is_renewed_with_client_credentials(xurrent, sandbox, sleeps):
    fake = XurrentFake(auth_mode="oauth")
    box = sandbox(fake)
    box.faults.add("xurrent", "/v1/products", "expired_token", nth=2)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert len(recorder.upserts("products")) == len(fake.ids("products")) and fake.tokens_issued == 2


def test_a_malformed_page_fails_the_sync_and_moves_no_cursor_past_it(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    box.faults.add("xurrent", "/v1/products", "malformed", nth=2)
    failed = Recorder()
    with pytest.raises(PayloadError, match="not JSON"):
        run_update(xurrent, configuration, recorder=failed)
    delivered = failed.upserts("products")
    assert len(delivered) == 100  # the first page; the second was malformed
    saved = failed.checkpoints[-1]
    assert saved["products"]["cursor"] == max(row["updated_at"] for row in delivered)[:19] + "Z"
    assert "projects" not in saved and "organizations" in saved
    recorder, _ = run_update(xurrent, configuration, saved)
    assert set(row["id"] for row in delivered) | {row["id"] for row in recorder.upserts("products")} == \
        fake.ids("products")


def test_a_persistent_network_failure_fails_with_a_clear_message(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    box.faults.add("xurrent", "/v1/projects", "reset", times=None)
    with pytest.raises(TransportError, match="GET .*/v1/projects failed after 4 attempts"):
        run_update(xurrent, box.configuration("xurrent"))
    assert len(box.requests_to("xurrent", "/v1/projects")) == 4  # retry_attempts=3 retries after the first


@pytest.mark.parametrize("status", [400, 404])
def test_a_bad_request_is_not_retried(xurrent, sandbox, sleeps, status):
    box = sandbox(XurrentFake())
    box.faults.add("xurrent", "/v1/organizations", "status", status=status, times=None)
    with pytest.raises(HttpError, match=f"HTTP {status}"):
        run_update(xurrent, box.configuration("xurrent"))
    assert len(box.requests_to("xurrent", "/v1/organizations")) == 1


@responses.activate
def test_a_body_that_is_not_an_array_fails_instead_of_meaning_zero_rows(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", json={"message": "Maintenance"})
    with pytest.raises(PayloadError, match="organizations: expected a JSON array of records, got dict"):
        run_update(xurrent, CONFIGURATION)


@responses.activate
def test_a_record_without_an_id_fails(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", json=[{"name": "x", "updated_at": "2024-01-01T00:00:00Z"}])
    with pytest.raises(PayloadError, match="a record without an id"):
        run_update(xurrent, CONFIGURATION)


@responses.activate
def test_a_next_link_to_another_host_outside_the_api_path_is_refused(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}],
                  headers={"Link": '<https://elsewhere.example.com/collect?search_after=x>; rel="next"'})
    with pytest.raises(PaginationError, match="another host than base_url, outside its path"):
        run_update(xurrent, CONFIGURATION)
    assert len(responses.calls) == 1


@responses.activate
def test_a_next_link_on_the_canonical_host_is_followed_on_the_custom_domain(xurrent, sleeps):
    """Behind a custom domain the server may write its canonical host into the links; the path and query are
    followed on base_url's host, and the token never goes to the other one."""
    custom = "https://api.example-corp.com/v1"
    responses.get(f"{custom}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}],
                  headers={"Link": f'<{HOST}/organizations?search_after=x%2B1&sort=updated_at>; rel="next"'})
    responses.get(f"{custom}/organizations", json=[{"id": 2, "updated_at": "2024-01-01T00:00:01Z"}])
    for table in ("products", "projects"):
        responses.get(f"{custom}/{table}", json=[])
    recorder, _ = run_update(xurrent, {**CONFIGURATION, "base_url": custom})
    assert [row["id"] for row in recorder.upserts("organizations")] == [1, 2]
    assert responses.calls[1].request.url == f"{custom}/organizations?search_after=x%2B1&sort=updated_at"
    assert all(call.request.url.startswith(custom) for call in responses.calls)


@responses.activate
def test_a_link_header_with_commas_inside_its_urls_is_followed(xurrent, sleeps):
    following = f"{HOST}/organizations?fields=name,disabled&search_after=12,abc%3D&sort=updated_at"
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00-05:00"}],
                  headers={"Link": f'<{following}>; rel="next", <{HOST}/organizations?id=1,2,3>; rel="first"'})
    responses.get(following, json=[{"id": 2, "updated_at": "2024-01-01T00:00:05-05:00"}])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    recorder, state = run_update(xurrent, CONFIGURATION)
    assert responses.calls[1].request.url == following
    assert [row["id"] for row in recorder.upserts("organizations")] == [1, 2]
    assert state["organizations"] == {"cursor": "2024-01-01T05:00:05Z"}


@responses.activate
def test_rows_out_of_updated_at_order_still_end_at_the_largest_cursor(xurrent, sleeps, log, monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-03-01T00:00:00Z"},
                                                 {"id": 2, "updated_at": "2024-02-01T00:00:00+01:00"}])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    _, state = run_update(xurrent, CONFIGURATION)
    assert state["organizations"] == {"cursor": "2024-03-01T00:00:00Z"}
    assert "out of updated_at order" in log.text()


def pages_out_of_order(second_page: list, then_more: bool = True) -> str:
    """Organizations page 1 (ids 5 and 6, 05:00 and 06:00), then ``second_page`` below them (the order breaks),
    linking to a third page when ``then_more``; returns that third page's URL for the caller to answer."""
    second, third = f"{HOST}/organizations?search_after=2", f"{HOST}/organizations?search_after=3"
    responses.get(f"{HOST}/organizations", json=[{"id": 5, "updated_at": "2024-01-01T05:00:00Z"},
                                                 {"id": 6, "updated_at": "2024-01-01T06:00:00Z"}],
                  headers={"Link": f'<{second}>; rel="next"'})
    responses.get(second, json=second_page, headers={"Link": f'<{third}>; rel="next"'} if then_more else {})
    return third


@responses.activate
def test_rows_out_of_order_then_a_failed_page_resume_from_the_walks_start(xurrent, sleeps, log, monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    third = pages_out_of_order([{"id": 1, "updated_at": "2024-01-01T01:00:00Z"}])
    responses.get(third, status=500)  # ids 3 and 4 (03:00, 04:00) were never delivered
    state = {"organizations": {"cursor": "2024-01-01T00:00:00Z"}}
    recorder = Recorder()
    with pytest.raises(HttpError, match="HTTP 500"):
        run_update(xurrent, CONFIGURATION, state, recorder=recorder)
    assert recorder.checkpoints[-1]["organizations"] == {"cursor": "2024-01-01T00:00:00Z"}
    assert "out of updated_at order" in log.text()


@responses.activate
def test_rows_out_of_order_then_a_bad_record_in_the_same_page_resume_from_the_walks_start(xurrent, sleeps):
    """The order breaks inside the page that then fails: the rows after the bad record (id 4, 04:00) were never
    delivered, so the cursor must not stay at the earlier pages' largest updated_at."""
    pages_out_of_order([{"id": 1, "updated_at": "2024-01-01T01:00:00Z"},
                        {"updated_at": "2024-01-01T02:00:00Z"},  # no id: fails the sync
                        {"id": 4, "updated_at": "2024-01-01T04:00:00Z"}], then_more=False)
    state = {"organizations": {"cursor": "2024-01-01T00:00:00Z"}}
    recorder = Recorder()
    with pytest.raises(PayloadError, match="a record without an id"):
        run_update(xurrent, CONFIGURATION, state, recorder=recorder)
    assert recorder.checkpoints[-1]["organizations"] == {"cursor": "2024-01-01T00:00:00Z"}


@responses.activate
def test_rows_out_of_order_from_the_first_sync_leave_no_cursor_until_the_walk_ends(xurrent, sleeps):
    second = f"{HOST}/organizations?search_after=2"
    responses.get(f"{HOST}/organizations", json=[{"id": 5, "updated_at": "2024-01-01T05:00:00Z"}],
                  headers={"Link": f'<{second}>; rel="next"'})
    responses.get(second, json=[{"id": 1, "updated_at": "2024-01-01T01:00:00Z"}],
                  headers={"Link": f'<{second}&more=1>; rel="next"'})
    responses.get(f"{second}&more=1", status=500)
    recorder = Recorder()
    with pytest.raises(HttpError):
        run_update(xurrent, CONFIGURATION, recorder=recorder)
    assert recorder.checkpoints[-1]["organizations"] == {}


@pytest.mark.parametrize("cursor", [1704078000, 1704078000.5, "yesterday"])
def test_a_saved_cursor_that_is_not_a_timestamp_fails_with_what_to_do(xurrent, sleeps, cursor):
    with pytest.raises(ValueError, match="organizations cursor .* is not a timestamp .*reset the connector's state"):
        run_update(xurrent, CONFIGURATION, {"organizations": {"cursor": cursor}})


@responses.activate
def test_a_long_retry_after_is_waited_out(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", status=429, headers={"Retry-After": "1801"})
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    recorder, _ = run_update(xurrent, CONFIGURATION)
    assert 1801.0 in sleeps and [row["id"] for row in recorder.upserts("organizations")] == [1]


@responses.activate
def test_a_retry_after_longer_than_an_hour_and_a_minute_is_cut_to_that(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", status=429, headers={"Retry-After": "86400"})
    for table in TABLES:
        responses.get(f"{HOST}/{table}", json=[])
    run_update(xurrent, CONFIGURATION)
    assert max(sleeps) == 3660.0


@responses.activate
def test_quota_headers_make_the_sync_wait_for_the_reset(xurrent, sleeps, clock):
    reset = int(clock()) + 30
    responses.get(f"{HOST}/organizations", json=[], headers={"X-RateLimit-Limit": "3600",
                                                             "X-RateLimit-Remaining": "1",
                                                             "X-RateLimit-Reset": str(reset)})
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[], headers={"X-RateLimit-Remaining": "3000"})
    run_update(xurrent, CONFIGURATION)
    assert len(sleeps) == 1 and 29 <= sleeps[0] <= 32


@responses.activate
def test_a_429_without_retry_after_on_a_spent_quota_waits_for_the_quota_reset(xurrent, sleeps):
    """Retry-After missing (the docs never say it is always sent): the client's backoff of seconds would spend its
    retries long before an hourly quota resets, so the wait is x-ratelimit-reset's."""
    reset = int(time.time()) + 1200
    responses.get(f"{HOST}/organizations", status=429, json={"message": "Too Many Requests"},
                  headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    responses.get(f"{HOST}/organizations", json=[{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    recorder, _ = run_update(xurrent, CONFIGURATION)
    assert [row["id"] for row in recorder.upserts("organizations")] == [1]
    assert any(1150 < wait <= 1201 for wait in sleeps), sleeps


@responses.activate
def test_a_429_without_retry_after_on_a_quota_not_spent_takes_a_short_backoff(xurrent, sleeps):
    """The short burst limit: the hourly quota has room, so seconds of backoff, not an hour."""
    responses.get(f"{HOST}/organizations", status=429, json={"message": "Too Many Requests"},
                  headers={"x-ratelimit-remaining": "3000", "x-ratelimit-reset": str(int(time.time()) + 1200)})
    responses.get(f"{HOST}/organizations", json=[])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    run_update(xurrent, CONFIGURATION)
    assert sleeps and max(sleeps) < 60
