"""Body status codes, the daily limit, page-size halving, rate limits and transport faults."""

from datetime import timedelta

import pytest
import responses

from sandbox.server import Reply
from shared.http_client import HttpError
from shared.parsing import PayloadError
from tests.aroflo.conftest import SMALL, source_ids, synced
from tests.aroflo.test_aroflo_signing import api_module
from tests.harness import Recorder, run_update

TABLES = ("users", "suppliers", "payments")


def requests_of(box, zone: str) -> list[tuple[str, str]]:
    return [(r.arg("page"), r.arg("pageSize")) for r in box.requests_to("aroflo") if r.arg("zone") == zone]


def assert_complete(fake, recorder, tables=TABLES):
    for table in tables:
        assert set(synced(recorder, table)) == source_ids(fake, table), table


@pytest.mark.parametrize("status", ["6", "429"])
def test_throttling_statuses_back_off_and_retry(aroflo, fake_box, vtime, status):
    fake, box, configuration = fake_box()
    fake.control_trigger(status, zone="suppliers", nth=2, times=2)
    recorder, _ = run_update(aroflo, configuration)
    assert_complete(fake, recorder)
    assert requests_of(box, "suppliers")[1:4] == [("2", "50")] * 3  # page 2 asked three times
    assert len([w for w in vtime.waits if w >= 2.5]) == 2  # 5 s and 10 s backoff, jittered by half
    assert aroflo.log.text().count("rate limited; retry") == 2


def test_throttling_that_never_ends_fails_clearly(aroflo, fake_box):
    fake, box, configuration = fake_box()
    fake.control_trigger("6", zone="users", times=None)
    with pytest.raises(api_module().AroFloError, match="status 6 .*still rate limited after 4 attempts"):
        run_update(aroflo, configuration)


def test_the_daily_limit_ends_the_sync_cleanly_and_the_next_sync_resumes(aroflo, fake_box, vtime):
    fake, box, configuration = fake_box(per_day=6)  # users: 1 + 3 pages, suppliers: 2 of 3 pages
    first, state = run_update(aroflo, configuration)  # no exception: the sync ends cleanly
    warnings = [message for kind, _, message in first.operations if kind == "warning"]
    assert len(warnings) == 1 and "daily limit of 2,000 requests" in warnings[0] and "resumes" in warnings[0]
    assert first.operations[-2][0] == "checkpoint" and first.operations[-1][0] == "warning"
    assert "daily request limit reached after 7 requests" in aroflo.log.text()
    scan_cursor = state["suppliers"]["full_scan"]["cursor"]
    assert state["suppliers"]["full_scan"]["walking"] == ["cursor"]  # an interrupted walk
    assert scan_cursor == max(r["datetimeinserted"] for r in first.upserts("suppliers"))  # 2 pages, 100 rows
    assert "payments" not in state and len(first.upserts("suppliers")) == 100
    assert len(box.requests_to("aroflo")) == 7  # the 7th answered status 7

    fake.control_reset_day()  # 00:00 Melbourne
    fake.limits["day"] = 2000
    vtime.now += 86_400
    box.requests.clear()
    second, final = run_update(aroflo, configuration, state)
    resumed = [r.arg("where") for r in box.requests_to("aroflo") if r.arg("zone") == "suppliers"]
    cursor = api_module()._parse_time(scan_cursor) - timedelta(seconds=1)
    assert resumed == [f"and|datetimeinserted|>|{cursor:%Y-%m-%d %H:%M:%S}"]  # at the checkpoint, not the start
    assert len(second.upserts("suppliers")) == 11  # the last row delivered (tied with the cursor) + 10 new
    replay = Recorder()
    replay.operations = first.operations + second.operations
    assert_complete(fake, replay)
    assert "full_scan" not in final["suppliers"] and final["payments"]["cursor"]


@pytest.mark.parametrize("status", ["8", "888888"])
def test_a_heavy_page_halves_page_size_and_resumes_at_the_same_row(aroflo, fake_box, status):
    fake, box, configuration = fake_box()
    fake.control_trigger(status, zone="payments", nth=2)
    recorder, _ = run_update(aroflo, {**configuration, "max_records_per_page": "125"})
    # 230 payments: page 2 of 125 fails; 125 rows done = page 3 of 62 minus its first row, then page 4 of 62.
    assert requests_of(box, "payments") == [("1", "125"), ("2", "125"), ("3", "62"), ("4", "62")]
    assert len(recorder.upserts("payments")) == SMALL["payments"]  # nothing skipped, nothing repeated
    assert_complete(fake, recorder)
    assert f"status {status}" in aroflo.log.text() and "pageSize=62" in aroflo.log.text()


def test_the_size_limit_on_every_page_settles_on_a_size_that_fits(aroflo, fake_box):
    fake, box, configuration = fake_box(response_row_limit=30)  # like 3.5 MB reached at 31 rows
    recorder, _ = run_update(aroflo, configuration)
    assert_complete(fake, recorder)
    assert len(recorder.upserts("suppliers")) == SMALL["suppliers"]
    assert requests_of(box, "suppliers")[:3] == [("1", "50"), ("1", "25"), ("2", "25")]


def test_a_page_too_heavy_even_for_one_row_fails(aroflo, fake_box):
    fake, box, configuration = fake_box()
    fake.control_trigger("8", zone="users", times=None)
    with pytest.raises(api_module().AroFloError, match="even with one row per page"):
        run_update(aroflo, configuration)


@pytest.mark.parametrize("status", ["1", "2", "3", "4", "20", "30"])
def test_permission_statuses_fail_with_configuration_advice(aroflo, fake_box, status):
    fake, box, configuration = fake_box()
    fake.control_trigger(status, message="API access is disabled")
    with pytest.raises(api_module().AroFloError, match="API access is not enabled or not permitted"):
        run_update(aroflo, configuration)
    assert len(box.requests_to("aroflo")) == 1


def test_an_unknown_status_on_http_200_is_an_error(aroflo, fake_box):
    fake, box, configuration = fake_box()
    fake.control_trigger("5", zone="payments", nth=2)
    failed = Recorder()
    with pytest.raises(api_module().AroFloError, match="status 5"):
        run_update(aroflo, configuration, recorder=failed)
    assert "payments" not in failed.checkpoints[-1] or failed.checkpoints[-1]["payments"]["full_scan"].get("cursor")


def test_authentication_failure_on_http_401_gets_the_same_advice(aroflo, fake_box):
    fake, box, configuration = fake_box(error_http_status=401)
    with pytest.raises(api_module().AuthenticationFailed, match="status -99999 on HTTP 401.*credentials are wrong"
                                                                 ".*clock") as error:
        run_update(aroflo, {**configuration, "pencoded": "wrong-pencoded"})
    assert "wrong-pencoded" not in str(error.value)
    assert len(box.requests_to("aroflo")) == 1  # not retried


@responses.activate
def test_an_http_401_without_an_aroflo_body_names_both_causes_too(aroflo, vtime):
    responses.get("https://api.aroflo.com/", body="Unauthorized", status=401)
    with pytest.raises(HttpError, match="HTTP 401.*credentials are wrong.*clock"):
        run_update(aroflo, REQUIRED)
    assert len(responses.calls) == 1


@pytest.mark.parametrize("http_status", [429, 503])
def test_the_daily_limit_on_an_http_error_still_ends_the_sync_cleanly(aroflo, fake_box, http_status):
    """Which HTTP status comes with a body error is unconfirmed: status 7 on a 429 or 503 is still status 7."""
    fake, box, configuration = fake_box(per_day=6, error_http_status=http_status)
    first, state = run_update(aroflo, configuration)
    assert [kind for kind, _, _ in first.operations[-2:]] == ["checkpoint", "warning"]
    assert len(box.requests_to("aroflo")) == 7  # the status-7 answer is not retried as an HTTP error
    assert state["suppliers"]["full_scan"]["walking"] == ["cursor"]


@pytest.mark.parametrize("status", ["8", "888888"])
def test_a_heavy_page_on_an_http_500_still_halves_page_size(aroflo, fake_box, status):
    fake, box, configuration = fake_box(error_http_status=500)
    fake.control_trigger(status, zone="payments", nth=2)
    recorder, _ = run_update(aroflo, {**configuration, "max_records_per_page": "125"})
    assert requests_of(box, "payments") == [("1", "125"), ("2", "125"), ("3", "62"), ("4", "62")]
    assert len(recorder.upserts("payments")) == SMALL["payments"]


def test_a_body_throttle_on_an_http_429_follows_the_body_rules(aroflo, fake_box, vtime):
    fake, box, configuration = fake_box(error_http_status=429)
    fake.control_trigger("6", zone="users", nth=2, times=2)
    recorder, _ = run_update(aroflo, configuration)
    assert_complete(fake, recorder)
    assert aroflo.log.text().count("status 6 (injected status 6): rate limited; retry") == 2
    assert len([w for w in vtime.waits if w >= 2.5]) == 2  # the body backoff: 5 s then 10 s, jittered by half


@pytest.mark.parametrize("fault, options", [
    ("status", {"status": 429, "retry_after": "2"}),
    ("status", {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}),
    ("reset", {}), ("truncate", {}), ("slow", {"delay_s": 1.3}),
])
def test_transient_faults_still_deliver_every_row(aroflo, fake_box, vtime, fault, options):
    fake, box, configuration = fake_box()
    injected = box.faults.add("aroflo", "/", fault, nth=6, **options)  # a suppliers page
    recorder, _ = run_update(aroflo, {**configuration, "request_timeout_seconds": "1"})
    assert injected.fired == 1
    assert_complete(fake, recorder)
    if options.get("retry_after") == "2":
        assert 2.0 in vtime.waits


def test_a_malformed_body_fails_and_advances_nothing(aroflo, fake_box, monkeypatch):
    fake, box, configuration = fake_box()
    box.faults.add("aroflo", "/", "malformed", nth=2)  # users, created walk, page 1
    failed = Recorder()
    with pytest.raises(PayloadError, match="not JSON"):
        run_update(aroflo, configuration, recorder=failed)
    assert all("created_cursor" not in c.get("users", {}) for c in failed.checkpoints)


def test_an_expired_payload_answer_fails_and_advances_nothing(aroflo, fake_box):
    fake, box, configuration = fake_box()
    box.faults.add("aroflo", "/", "expired_token", nth=5)  # suppliers, page 1
    failed = Recorder()
    with pytest.raises(api_module().AuthenticationFailed, match="Payload has expired"):
        run_update(aroflo, configuration, recorder=failed)
    assert all("suppliers" not in c or not c["suppliers"].get("cursor") for c in failed.checkpoints)


def test_the_client_keeps_to_3_per_second_and_120_per_minute(aroflo, fake_box, vtime):
    windows = dict((count, window) for window, count in getattr(aroflo, "__RATE_LIMITS"))
    assert windows[3] >= 1.0 and windows[120] >= 60.0  # never more than 3 a second or 120 a minute
    fake, box, configuration = fake_box()  # the fake enforces 3/s and 120/min on the same virtual clock
    start = vtime.now
    recorder, _ = run_update(aroflo, {**configuration, "max_records_per_page": "4"})
    sent = len(box.requests_to("aroflo"))
    assert sent > 120
    assert "rate limited" not in aroflo.log.text()  # the fake never had to refuse a request
    assert vtime.now - start >= 60  # the 121st request waited for the minute window
    assert_complete(fake, recorder)


def test_without_the_client_limit_the_server_limit_is_met_with_backoff(aroflo, fake_box, monkeypatch):
    monkeypatch.setattr(aroflo, "new_rate_limiter", lambda: None)
    fake, box, configuration = fake_box()
    recorder, _ = run_update(aroflo, configuration)
    assert "status 429 (Too Many Requests Per Second (max x3)): rate limited" in aroflo.log.text()
    assert_complete(fake, recorder)


def test_the_real_limiter_is_built_from_the_documented_limits():
    from tests.harness import load_connector

    module = load_connector("aroflo")
    limiter = module.new_rate_limiter()
    assert limiter._limits == [(1.5, 3), (62.0, 120)]


REQUIRED = {"uencoded": "u1234", "pencoded": "p1234", "orgencoded": "o1234", "secret_key": "k1234",
            "enable_users_sync": "true", "enable_suppliers_sync": "false", "enable_payments_sync": "false"}


def _users_page(rows: list, current: int | None = None, maximum="500") -> dict:
    return {"status": "0", "statusmessage": "Login OK", "zoneresponse": {
        "users": rows, "currentpageresults": len(rows) if current is None else current, "maxpageresults": maximum}}


@responses.activate
def test_a_body_throttle_honours_retry_after(aroflo, vtime):
    responses.get("https://api.aroflo.com/", json={"status": "429", "statusmessage": "max x3"},
                  headers={"Retry-After": "7"})
    responses.get("https://api.aroflo.com/", json=_users_page([]))
    run_update(aroflo, REQUIRED)
    assert 7.0 in vtime.waits


@responses.activate
@pytest.mark.parametrize("page, message", [
    (_users_page([{"userid": str(n)} for n in range(3)]), "3 rows for pageSize=2"),
    ({"status": "0", "statusmessage": "Login OK"}, "lacks 'zoneresponse'"),
    ({"status": "0", "zoneresponse": {"maxpageresults": "500"}}, "zoneresponse lacks 'users'"),
    ({"status": "0", "zoneresponse": {"currentpageresults": 2, "maxpageresults": "500"}}, "lacks 'users'"),
    ({"statusmessage": "Login OK", "zoneresponse": {}}, "lacks 'status'"),
    (_users_page([{"username": "no id"}]), "a row has no userid"),
])
def test_pages_that_do_not_have_the_documented_shape_fail(aroflo, vtime, page, message):
    responses.get("https://api.aroflo.com/", json=page)
    failed = Recorder()
    with pytest.raises(PayloadError, match=message):
        run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"}, recorder=failed)
    assert failed.checkpoints == []


@responses.activate
def test_a_value_that_does_not_parse_is_kept_as_text_and_the_row_delivered(aroflo, vtime, log, monkeypatch):
    """AroFlo's types are loose (the contract's own example rows hold "…"): an odd value costs neither the row nor
    the sync; it is kept in <field>_raw, and the log says so once per field."""
    monkeypatch.setattr(aroflo, "log", log)
    odd = [{"userid": "a", "archived": "maybe", "createdutc": "…", "createddatetimeutc": "2023/05/23 23:28:15"},
           {"userid": "b", "archived": "TRUE", "createdutc": "n/a", "createddatetimeutc": "23rd May"}]
    responses.get("https://api.aroflo.com/", json=_users_page(odd))
    recorder, _ = run_update(aroflo, {**REQUIRED, "enable_suppliers_sync": "false", "enable_payments_sync": "false"})
    rows = {row["id"]: row for row in recorder.upserts("users")}
    assert rows["a"]["archived"] is None and rows["a"]["archived_raw"] == "maybe"
    assert rows["a"]["createdutc"] is None and rows["a"]["createdutc_raw"] == "…"
    assert rows["a"]["createddatetimeutc"] == "2023-05-23T23:28:15.000000Z"
    assert "createddatetimeutc_raw" not in rows["a"]
    assert rows["b"]["archived"] is True and rows["b"]["createdutc_raw"] == "n/a"
    assert rows["b"]["createddatetimeutc"] is None and rows["b"]["createddatetimeutc_raw"] == "23rd May"
    warnings = [message for level, message in log.lines if level == "WARNING" and "_raw" in message]
    assert len(warnings) == 3, warnings  # archived, createdutc, createddatetimeutc: once each
    assert any("users.archived: expected a boolean" in message for message in warnings)


@responses.activate
def test_an_amount_decimal_18_4_cannot_hold_exactly_is_kept_as_text_with_a_warning(aroflo, vtime, log, monkeypatch):
    """Money is DECIMAL(18,4): the destination would round a fifth decimal place and write null for a 15th digit
    before the point, silently; such an amount goes to <field>_raw instead, as unparseable amounts do."""
    monkeypatch.setattr(aroflo, "log", log)
    amounts = {"a": ("1234567.12345", "123456789012345.6789"), "b": ("1234567.12340", "99999999999999.9999"),
               "c": ("-296.7600", "1E+3")}
    rows = [{"paymentid": key, "datepaid": "2024/01/02", "amount": amount, "totalamount": total}
            for key, (amount, total) in amounts.items()]
    responses.get("https://api.aroflo.com/", json={"status": "0", "statusmessage": "Login OK", "zoneresponse": {
        "payments": rows, "currentpageresults": len(rows), "maxpageresults": 500}})
    recorder, _ = run_update(aroflo, {**REQUIRED, "enable_users_sync": "false", "enable_payments_sync": "true"})
    paid = {row["id"]: row for row in recorder.upserts("payments")}
    assert (paid["a"]["amount"], paid["a"]["amount_raw"]) == (None, "1234567.12345")  # would round to .1235
    assert (paid["a"]["totalamount"], paid["a"]["totalamount_raw"]) == (None, "123456789012345.6789")  # 15 digits
    assert (paid["b"]["amount"], paid["b"]["totalamount"]) == ("1234567.12340", "99999999999999.9999")  # exact
    assert (paid["c"]["amount"], paid["c"]["totalamount"]) == ("-296.7600", "1000")
    assert not [name for row in (paid["b"], paid["c"]) for name in row if name.endswith("_raw")]
    warnings = [message for level, message in log.lines if level == "WARNING" and "_raw" in message]
    assert len(warnings) == 2, warnings  # once per field
    limits = "expected at most 14 digits before the point and 4 decimal places (DECIMAL(18,4))"
    assert any(f"payments.amount: {limits}, got '1234567.12345'" in message for message in warnings)
    assert any(f"payments.totalamount: {limits}, got '123456789012345.6789'" in message for message in warnings)


@responses.activate
def test_a_full_page_asks_for_the_next_and_a_short_one_ends_the_walk(aroflo, vtime):
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "a"}, {"userid": "b"}], maximum=2))
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "c"}], maximum="2"))
    responses.get("https://api.aroflo.com/", json=_users_page([]))  # the created walk
    recorder, _ = run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"})
    pages = [call.request.url.split("&page=")[1] for call in responses.calls]
    assert pages == ["1&pageSize=2", "2&pageSize=2", "1&pageSize=2"]
    assert [row["id"] for row in recorder.upserts("users")] == ["a", "b", "c"]


@responses.activate
def test_a_short_page_below_page_size_but_maxpageresults_500_is_not_the_end(aroflo, vtime):
    """AroFlo may keep maxpageresults at 500 while honouring a smaller pageSize: the page size sent decides."""
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "a"}, {"userid": "b"}], maximum="500"))
    responses.get("https://api.aroflo.com/", json=_users_page([], maximum="500"))
    responses.get("https://api.aroflo.com/", json=_users_page([]))
    recorder, _ = run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"})
    assert len(responses.calls) == 3 and len(recorder.upserts("users")) == 2


@responses.activate
def test_a_missing_or_disagreeing_row_count_never_ends_a_walk_early(aroflo, vtime):
    """currentpageresults missing: the rows' number decides; disagreeing: the larger, with a warning."""
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "a"}], current=2, maximum="2"))
    no_count = _users_page([{"userid": "b"}, {"userid": "c"}], maximum="2")
    del no_count["zoneresponse"]["currentpageresults"]
    responses.get("https://api.aroflo.com/", json=no_count)
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "d"}], maximum="2"))
    responses.get("https://api.aroflo.com/", json=_users_page([]))  # the created walk
    recorder, _ = run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"})
    pages = [call.request.url.split("&page=")[1] for call in responses.calls]
    assert pages == ["1&pageSize=2", "2&pageSize=2", "3&pageSize=2", "1&pageSize=2"]
    assert [row["id"] for row in recorder.upserts("users")] == ["a", "b", "c", "d"]
    assert "currentpageresults says 2 rows, the page has 1; paging on 2" in aroflo.log.text()


@responses.activate
def test_a_server_that_ignores_page_fails_instead_of_looping(aroflo, vtime):
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "a"}, {"userid": "b"}], maximum="2"))
    failed = Recorder()
    with pytest.raises(PayloadError, match="page 2 repeats page 1 row for row"):
        run_update(aroflo, {**REQUIRED, "max_records_per_page": "2"}, recorder=failed)
    assert len(responses.calls) == 2
    assert [row["id"] for row in failed.upserts("users")] == ["a", "b"]  # the repeated page is not delivered


@responses.activate
def test_pages_capped_below_the_size_sent_are_numbered_in_the_servers_size(aroflo, vtime):
    """maxpageresults below pageSize (AroFlo lowering its cap): page 2 of ours would start rows after where the
    capped page 1 ended, so the walk asks in the server's size from then on."""
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "a"}, {"userid": "b"}], maximum="2"))
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "c"}, {"userid": "d"}], maximum="2"))
    responses.get("https://api.aroflo.com/", json=_users_page([{"userid": "e"}], maximum="2"))
    responses.get("https://api.aroflo.com/", json=_users_page([]))  # the created walk
    recorder, _ = run_update(aroflo, {**REQUIRED, "max_records_per_page": "5"})
    pages = [call.request.url.split("&page=")[1] for call in responses.calls]
    assert pages == ["1&pageSize=5", "2&pageSize=2", "3&pageSize=2", "1&pageSize=5"]
    assert [row["id"] for row in recorder.upserts("users")] == ["a", "b", "c", "d", "e"]
    assert "pages hold at most 2 rows (maxpageresults), fewer than pageSize=5" in aroflo.log.text()


@responses.activate
def test_the_authentication_advice_names_host_ip_when_one_is_signed(aroflo, vtime):
    responses.get("https://api.aroflo.com/", json={"status": "-99999", "statusmessage": "Authentication Failed"})
    for host_ip, named in ((None, False), ("203.0.113.7", True)):
        with pytest.raises(api_module().AuthenticationFailed) as failure:
            run_update(aroflo, {**REQUIRED, "host_ip": host_ip})
        assert ("host_ip is not the public IP address" in str(failure.value)) is named
        assert "sync the clock with NTP" in str(failure.value)


@responses.activate
def test_a_page_that_is_not_json_is_quoted_without_the_credentials(aroflo, vtime):
    """A proxy's error page can echo the request's Authorization header."""
    echo = ("<html>Authorization: uencoded=u1234&pencoded=p1234&orgEncoded=o1234 refused; secret k1234; "
            "signed by k1234</html>")
    responses.get("https://api.aroflo.com/", body=echo)
    with pytest.raises(PayloadError, match="not JSON") as failure:
        run_update(aroflo, REQUIRED)
    assert not any(secret in str(failure.value) for secret in ("u1234", "p1234", "o1234", "k1234"))


def test_a_5xx_whose_error_body_is_cut_off_is_retried_like_any_5xx(aroflo, fake_box):
    """The body status hook reads an error body too: cut off mid-read, it is a shorter excerpt, not a crash."""
    fake, box, configuration = fake_box()
    real_handle, calls = fake.handle, {"n": 0}

    def handle(request):
        calls["n"] += 1
        if calls["n"] == 6:  # a suppliers page, answered 503 by a gateway
            return Reply.json({"message": "gateway busy, try again " + "x" * 400}, 503)
        return real_handle(request)

    fake.handle = handle
    injected = box.faults.add("aroflo", "/", "truncate", nth=6)  # ... and its body cut off mid-read
    recorder, _ = run_update(aroflo, {**configuration, "request_timeout_seconds": "1"})
    assert injected.fired == 1
    for table in ("users", "suppliers", "payments"):
        assert set(synced(recorder, table)) == source_ids(fake, table), table
