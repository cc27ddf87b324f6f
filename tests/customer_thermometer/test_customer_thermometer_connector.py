"""Customer Thermometer connector against its sandbox fake (real HTTP on 127.0.0.1)."""

import functools
import re
from datetime import date, timedelta

import pytest

from sandbox.customer_thermometer import BUSY_DAY, METRIC_METHODS, CustomerThermometerFake
from shared.config import ConfigError
from shared.http_client import HttpError, TransportError
from shared.parsing import PayloadError
from tests.customer_thermometer.conftest import NOW, small_limits
from tests.harness import ROOT, Recorder, run_update

SOURCES = {"blast_result": ("responses", "response_id"), "comment": ("comments", "response_id"),
           "thermometer": ("thermometers", "id"), "recipient_list": ("recipient_lists", "id")}
WINDOWED = {"blast_result": "getBlastResults", "comment": "getComments"}


def source_ids(fake: CustomerThermometerFake, table: str) -> set:
    attribute, key = SOURCES[table]
    return {row[key] for row in getattr(fake, attribute)}


def synced_ids(recorder: Recorder, table: str) -> set:
    return {key[0] for key in recorder.table(table, [SOURCES[table][1]])}


def calls(box, method: str) -> list:
    return [r for r in box.requests_to("customer_thermometer") if r.arg("getMethod") == method]


def committed_upserts(recorder: Recorder, table: str) -> list[dict]:
    """Upserts up to the last checkpoint: what the destination keeps when the sync then fails."""
    last = max((i for i, (kind, _, _) in enumerate(recorder.operations) if kind == "checkpoint"), default=-1)
    return [data for kind, name, data in recorder.operations[:last] if kind == "upsert" and name == table]


def test_every_table_delivers_every_row_once_with_its_key(ct, sandbox, sleeps):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    recorder, state = run_update(ct, box.configuration("customer_thermometer"))
    for table in SOURCES:
        assert synced_ids(recorder, table) == source_ids(fake, table), table
        assert len(recorder.upserts(table)) == len(source_ids(fake, table)), f"{table}: a row was read twice"
    assert len(source_ids(fake, "blast_result")) == 1_460  # 1,200 spread over years + 260 on the busy day
    assert state == {"blast_result": {"cursor": "2026-06-29"}, "comment": {"cursor": "2026-06-29"}}
    methods = [r.arg("getMethod") for r in box.requests_to("customer_thermometer")]
    assert methods == ["getThermometers", "getRecipientLists", "getBlastResults", "getComments", *METRIC_METHODS]


def test_a_sync_and_the_setup_test_only_read(ct, sandbox, sleeps):
    """The contract: never call the write methods (sendEmail, logResponse, addRecipientToList, deleteResponse,
    unsubscribeRecipient); the POST ones among them are sent with getMethod in the query too."""
    box = sandbox(CustomerThermometerFake())
    configuration = box.configuration("customer_thermometer")
    run_update(ct, configuration)
    assert ct.test_connection(configuration).success
    sent = box.requests_to("customer_thermometer")
    assert {request.method for request in sent} == {"GET"}
    assert {request.arg("getMethod") for request in sent} == {
        "getThermometers", "getRecipientLists", "getBlastResults", "getComments", *METRIC_METHODS}


def test_list_calls_always_send_limit_and_a_window(ct, sandbox, sleeps):
    box = sandbox(CustomerThermometerFake())
    run_update(ct, box.configuration("customer_thermometer"))
    for method in WINDOWED.values():
        (call,) = calls(box, method)
        assert (call.arg("fromDate"), call.arg("toDate"), call.arg("limit")) == ("2018-01-01", "2026-07-03", "10000")


def test_rows_are_typed_and_flattened(ct, sandbox, sleeps):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    recorder, _ = run_update(ct, box.configuration("customer_thermometer"))
    source = {row["response_id"]: row for row in fake.responses}
    rows = recorder.table("blast_result", ["response_id"])
    row = rows[("500007",)]
    assert row["company"] == "Smith & Sons <Ltd>"  # XML escaping undone
    assert row["response_date"] == source["500007"]["response_date"].replace(" ", "T") + ".000000Z"
    assert row["blast_date"].endswith("T08:00:00.000000Z")
    assert row["response_bounced"] is False and row["custom_2"] is None
    assert rows[("500097",)]["response_bounced"] is True
    assert rows[("500011",)]["comment_hidden"] is True
    comment = recorder.table("comment", ["response_id"])[("500005",)]
    assert comment["comment"] == "Comment number 5: thanks & bye" and comment["date_submitted"].endswith("Z")
    thermometer = recorder.table("thermometer", ["id"])[("1",)]
    assert thermometer == {"id": "1", "name": "Thermometer 1", "type": "Email Thermometer"}


def test_full_windows_are_split_until_none_is_full(ct, sandbox, sleeps, monkeypatch):
    """limit=100: the first window (everything) is full, so windows narrow; the busy day is read alone."""
    small_limits(monkeypatch, ct)
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    recorder, state = run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "1970-01-01"})
    assert synced_ids(recorder, "blast_result") == source_ids(fake, "blast_result")
    assert synced_ids(recorder, "comment") == source_ids(fake, "comment")
    asked = calls(box, "getBlastResults")
    assert asked[0].arg("fromDate") == "1970-01-01" and asked[0].arg("toDate") == "2026-07-03"
    for call in asked + calls(box, "getComments"):  # every row call: a whole window and a limit, never endDate
        assert call.arg("fromDate") <= call.arg("toDate") and call.arg("limit") in ("100", "400")
        assert call.arg("endDate") is None
    busy = [r for r in asked if r.arg("fromDate") == r.arg("toDate") == BUSY_DAY.isoformat()]
    assert [r.arg("limit") for r in busy] == ["100", "400"]  # full at 100, complete at 400
    assert len(asked) < 60  # 1,460 rows at ~50 per window, plus the narrowing
    assert len(recorder.upserts("blast_result")) < 1.35 * 1_460  # overlap days and nothing else read twice
    assert state["blast_result"] == {"cursor": "2026-06-29"}


def test_an_empty_decade_costs_a_handful_of_calls(ct, sandbox, sleeps, monkeypatch):
    small_limits(monkeypatch, ct)
    box = sandbox(CustomerThermometerFake(responses=0, busy_day_rows=0))
    run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "1970-01-01"})
    assert len(calls(box, "getBlastResults")) == 1
    fake = CustomerThermometerFake(responses=60, busy_day_rows=0)  # a few rows a month, from 2019 on
    box = sandbox(fake)
    recorder, _ = run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "1970-01-01"})
    assert synced_ids(recorder, "blast_result") == source_ids(fake, "blast_result")
    assert len(calls(box, "getBlastResults")) == 1  # 60 rows < limit: one call for 56 years


def test_a_day_fuller_than_the_largest_limit_fails_loudly_and_keeps_earlier_windows(ct, sandbox, sleeps,
                                                                                   monkeypatch):
    small_limits(monkeypatch, ct, checkpoint_rows=50)
    fake = CustomerThermometerFake(busy_day_rows=450)
    box = sandbox(fake)
    configuration = box.configuration("customer_thermometer")
    failed = Recorder()
    with pytest.raises(ct.api.WindowTooFull, match="2024-03-15 holds 400 rows or more.*instead of skipping rows"):
        run_update(ct, configuration, recorder=failed)
    cursors = [c["blast_result"]["cursor"] for c in failed.checkpoints if "blast_result" in c]
    assert cursors and max(cursors) < BUSY_DAY.isoformat()  # moved over complete windows, never past the day
    assert cursors == sorted(cursors)
    committed = {row["response_id"] for row in committed_upserts(failed, "blast_result")}
    early = {r["response_id"] for r in fake.responses if r["response_date"][:10] < max(cursors)}
    assert early <= committed  # every row before the cursor was delivered and committed


def test_next_sync_reads_from_last_complete_day_minus_lookback(ct, sandbox, sleeps):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    configuration = {**box.configuration("customer_thermometer"), "lookback_days": "5"}
    _, state = run_update(ct, configuration)
    assert state["blast_result"] == {"cursor": "2026-06-26"}  # yesterday 2026-07-01 minus 5 days
    box.requests.clear()
    fake.control_mutate("responses", insert=2, day="2026-07-02")  # today: never "complete", read again next time
    fake.control_mutate("responses", update=["501200"])
    recorder, state2 = run_update(ct, configuration, state)
    for method in WINDOWED.values():
        (call,) = calls(box, method)
        assert (call.arg("fromDate"), call.arg("toDate")) == ("2026-06-26", "2026-07-03")
    new = {r["response_id"] for r in fake.responses if r["response_date"].startswith("2026-07-02")}
    assert new <= synced_ids(recorder, "blast_result")
    assert recorder.table("comment", ["response_id"])[("501200",)]["comment_hidden"] is True
    assert state2 == state  # the same day: the cursor stays, it never comes from the clock beyond what was read


def test_the_cursor_never_moves_back_and_state_wins_over_from_date(ct, sandbox, sleeps, monkeypatch):
    box = sandbox(CustomerThermometerFake())
    configuration = box.configuration("customer_thermometer")
    state = {"blast_result": {"cursor": "2026-07-01"}, "comment": {"cursor": "2026-06-30"}}
    _, state2 = run_update(ct, {**configuration, "from_date": "2020-01-01"}, state)
    assert calls(box, "getBlastResults")[0].arg("fromDate") == "2026-07-01"
    assert state2["blast_result"] == {"cursor": "2026-07-01"}  # not 2026-06-29: never backwards
    assert state2["comment"] == {"cursor": "2026-06-30"}


def test_a_cursor_after_yesterday_left_by_a_clock_that_ran_ahead_goes_back_to_the_lookback(ct, sandbox, sleeps):
    """Walking on from 2026-08-01 would read nothing for a month while responses keep coming."""
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    new = fake.insert("responses", 3, date(2026, 6, 30)) + fake.insert("responses", 2, date(2026, 7, 2))
    state = {"blast_result": {"cursor": "2026-08-01"}, "comment": {"cursor": "2026-07-01"}}  # 07-01: yesterday
    recorder, state2 = run_update(ct, box.configuration("customer_thermometer"), state)
    assert calls(box, "getBlastResults")[0].arg("fromDate") == "2026-06-29"  # yesterday minus 2 lookback days
    assert calls(box, "getComments")[0].arg("fromDate") == "2026-07-01"  # a cursor a sync could have saved
    assert set(new) <= synced_ids(recorder, "blast_result")
    assert state2["blast_result"] == {"cursor": "2026-06-29"}
    warnings = [line for level, line in ct.log.lines if level == "WARNING" and "run ahead" in line]
    assert warnings == ["the saved state's blast_result cursor 2026-08-01 is after 2026-07-01, the latest a sync "
                        "could have saved by now (did the host clock run ahead?); going on from 2026-06-29 instead"]


def test_a_saved_cursor_written_as_a_date_time_is_read_as_its_day(ct, sandbox, sleeps):
    box = sandbox(CustomerThermometerFake())
    state = {"blast_result": {"cursor": "2026-07-01T00:00:00Z"}, "comment": {"cursor": ""}}  # blank: none
    run_update(ct, box.configuration("customer_thermometer"), state)
    assert calls(box, "getBlastResults")[0].arg("fromDate") == "2026-07-01"


def test_a_failure_mid_walk_keeps_state_and_the_next_sync_converges(ct, sandbox, sleeps, monkeypatch):
    small_limits(monkeypatch, ct, checkpoint_rows=200)
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    configuration = {**box.configuration("customer_thermometer"), "from_date": "1970-01-01"}
    fake.control_break("getBlastResults", after=20, times=None, body="Error: database unavailable")
    failed = Recorder()
    with pytest.raises(PayloadError, match="answered an error text instead of XML: 'Error: database unavailable'"):
        run_update(ct, configuration, recorder=failed)
    state = failed.checkpoints[-1]
    assert "1970-01-01" < state["blast_result"]["cursor"] < "2026-06-29"
    assert "comment" not in state  # later tables not started
    fake.broken.clear()
    box.requests.clear()
    second, final_state = run_update(ct, configuration, state)
    resumed = calls(box, "getBlastResults")[0]
    assert resumed.arg("fromDate") == state["blast_result"]["cursor"]  # resumed there, with the window size it had
    assert date.fromisoformat(resumed.arg("toDate")) - date.fromisoformat(resumed.arg("fromDate")) == \
        timedelta(days=state["blast_result"]["window_days"] - 1)
    in_first_window = [r for r in fake.responses if resumed.arg("fromDate") <= r["response_date"][:10]
                       <= resumed.arg("toDate") and r["response_date"][:10] != BUSY_DAY.isoformat()]
    # sized for the density the walk had seen, not the whole range (the busy day aside: 260 rows on one day, which
    # no density foresees, and which the walk then reads on its own)
    assert 0 < len(in_first_window) < 100
    assert all(r["response_date"][:10] >= state["blast_result"]["cursor"] for r in second.upserts("blast_result"))
    delivered = {row["response_id"] for row in committed_upserts(failed, "blast_result")}
    assert delivered | synced_ids(second, "blast_result") == source_ids(fake, "blast_result")
    assert final_state["blast_result"] == {"cursor": "2026-06-29"}


@pytest.mark.parametrize("saved, first_days", [(3, 3), (3.0, 3), ("3", 3), (0, None), (-2, None), ("x", None),
                                                 (True, None), ([4], None), (2.5, None)])
def test_a_saved_window_size_is_a_hint_a_value_that_is_not_whole_days_is_ignored(ct, sandbox, sleeps, saved,
                                                                                first_days):
    box = sandbox(CustomerThermometerFake(responses=40, busy_day_rows=0))
    state = {"blast_result": {"cursor": "2026-06-01", "window_days": saved}}
    _, final_state = run_update(ct, box.configuration("customer_thermometer"), state)
    first = calls(box, "getBlastResults")[0]
    last_day = "2026-06-03" if first_days else "2026-07-03"  # 3 days, or the whole range to tomorrow
    assert (first.arg("fromDate"), first.arg("toDate")) == ("2026-06-01", last_day)
    ignored = [line for level, line in ct.log.lines if level == "WARNING" and "window_days" in line]
    assert len(ignored) == (0 if first_days else 1)
    assert final_state["blast_result"] == {"cursor": "2026-06-29"}


def test_the_log_shows_progress_and_a_closing_line_per_table(ct, sandbox, sleeps, monkeypatch):
    small_limits(monkeypatch, ct)
    monkeypatch.setattr(ct, "TableProgress", functools.partial(ct.TableProgress, log_every_seconds=0))
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    recorder, _ = run_update(ct, box.configuration("customer_thermometer"))
    lines = [message for level, message in ct.log.lines if level == "INFO"]
    for table in ("thermometer", "recipient_list", "blast_result", "comment", "metric"):
        assert f"{table}: sync started" in lines
        (closing,) = [line for line in lines if line.startswith(f"{table}: ") and "rows delivered" in line]
        assert closing.startswith(f"{table}: {len(recorder.upserts(table))} rows delivered from ")
    assert any(re.fullmatch(r"blast_result: \d+ rows so far from \d+ windows \(\d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d\)",
                            line) for line in lines)
    assert any(line.startswith("comment: ") and "came back full" in line for line in lines)
    assert "blast_result: 2024-03-15 alone holds 100 rows or more: reading it with limit=400" in lines


def test_progress_lines_do_not_flood_the_log(ct, sandbox, sleeps, monkeypatch):
    small_limits(monkeypatch, ct)
    box = sandbox(CustomerThermometerFake())
    run_update(ct, box.configuration("customer_thermometer"))
    windows = len(calls(box, "getBlastResults")) + len(calls(box, "getComments"))
    assert windows > 30
    assert len(ct.log.lines) < windows  # a line per window only when it came back full; progress every 10 s


def test_deleted_list_rows_are_marked_deleted_by_the_next_sync(ct, sandbox, sleeps):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    configuration = box.configuration("customer_thermometer")
    first, state = run_update(ct, configuration)
    fake.control_mutate("thermometers", delete=["3"], update=["4"], insert=1)
    fake.control_mutate("recipient_lists", delete=["702"])
    second, _ = run_update(ct, configuration, state)
    first.operations.extend(second.operations)
    thermometers = first.table("thermometer", ["id"])
    assert {k[0] for k in thermometers} == source_ids(fake, "thermometer") and ("3",) not in thermometers
    assert thermometers[("4",)]["name"] == "Thermometer 4 (edited)"
    assert {k[0] for k in first.table("recipient_list", ["id"])} == source_ids(fake, "recipient_list")
    kinds = [kind for kind, table, _ in second.operations if table == "thermometer" or kind == "checkpoint"]
    assert kinds[: len(source_ids(fake, "thermometer")) + 2] == ["truncate", *["upsert"] * 12, "checkpoint"]


@pytest.mark.parametrize("method, body", [("getThermometers", "Error: temporarily unavailable"),
                                          ("getRecipientLists", "<recipient_lists><recipient_list><id>1</id>")])
def test_a_failed_list_read_truncates_nothing(ct, sandbox, sleeps, method, body):
    box = sandbox(fake := CustomerThermometerFake())
    configuration = box.configuration("customer_thermometer")
    _, state = run_update(ct, configuration)
    fake.control_break(method, times=None, body=body)
    failed = Recorder()
    with pytest.raises(PayloadError, match=method):
        run_update(ct, configuration, state, recorder=failed)
    table = {"getThermometers": "thermometer", "getRecipientLists": "recipient_list"}[method]
    assert [kind for kind, name, _ in failed.operations if name == table] == []  # no truncate, no upsert


def test_metrics_one_row_per_metric_per_day_with_explicit_windows(ct, sandbox, sleeps, monkeypatch):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    configuration = box.configuration("customer_thermometer")
    first, state = run_update(ct, configuration)
    for call in box.requests_to("customer_thermometer"):
        if call.arg("getMethod", "").endswith("Value"):
            # a limit only where the method would otherwise count just the latest 100 results
            limit = None if call.arg("getMethod") in ("getNumResponsesValue", "getNPSValue") else "100000"
            assert (call.arg("fromDate"), call.arg("toDate"), call.arg("limit")) == ("2026-06-03", "2026-07-02",
                                                                                     limit)
    rows = first.table("metric", ["metric", "captured_date"])
    assert len(rows) == 6
    responses_in_window = sum(1 for r in fake.responses if r["response_date"][:10] >= "2026-06-03")
    assert rows[("num_responses", "2026-07-02")]["value"] == float(responses_in_window)
    assert rows[("send_quota", "2026-07-02")] == {
        "metric": "send_quota", "captured_date": "2026-07-02", "captured_at": "2026-07-02T09:30:00.000000Z",
        "value": 4321.0, "api_method": "getSendQuota", "window_from": None, "window_to": None}
    assert {row["api_method"] for row in rows.values()} == {
        "getNumResponsesValue", "getResponseRateValue", "getTempRatingValue", "getNPSValue", "getHappinessValue",
        "getSendQuota"}
    fake.send_quota = 4000
    second, _ = run_update(ct, configuration, state, recorder=first)  # the same day: overwritten
    rows = first.table("metric", ["metric", "captured_date"])
    assert len(rows) == 6 and rows[("send_quota", "2026-07-02")]["value"] == 4000.0
    monkeypatch.setattr(ct, "utc_now", lambda: NOW + timedelta(days=1))
    run_update(ct, configuration, state, recorder=first)  # the next day: a row of its own
    rows = first.table("metric", ["metric", "captured_date"])
    assert len(rows) == 12 and rows[("send_quota", "2026-07-02")]["value"] == 4000.0
    assert rows[("nps", "2026-07-03")]["window_from"] == "2026-06-04"


@pytest.mark.parametrize("body, error", [
    ("Error: the account is suspended", "answered an error text instead of a number: 'Error: the account is"),
    ("<html><body>maintenance</body></html>", "answered '<html><body>maintenance</body></html>' instead of a number"),
    ("", "answered '' instead of a number"),
])
def test_a_metric_that_is_not_a_number_fails_the_sync(ct, sandbox, sleeps, body, error):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    fake.control_break("getNPSValue", body=body)
    with pytest.raises(PayloadError, match=f"getNPSValue 2026-06-03..2026-07-02 {re.escape(error)}"):
        run_update(ct, box.configuration("customer_thermometer"))


@pytest.mark.parametrize("empty_style", ["root", "body"])
def test_an_empty_result_is_zero_rows(ct, sandbox, sleeps, empty_style):
    box = sandbox(CustomerThermometerFake(responses=0, busy_day_rows=0, thermometers=0, empty_style=empty_style))
    recorder, state = run_update(ct, box.configuration("customer_thermometer"))
    assert recorder.upserts("blast_result") == recorder.upserts("thermometer") == []
    assert state["blast_result"] == {"cursor": "2026-06-29"}


def test_a_wrong_key_fails_with_the_api_error_text(ct, sandbox, sleeps):
    box = sandbox(CustomerThermometerFake())
    configuration = {**box.configuration("customer_thermometer"), "api_key": "wrong-key-123"}
    with pytest.raises(PayloadError, match=r"getThermometers answered an error text instead of XML: "
                                           r"\"Error: the API key '\*\*\*' is not valid\"") as error:
        run_update(ct, configuration)
    assert "wrong-key-123" not in str(error.value)


@pytest.mark.parametrize("status", [401, 403])
def test_http_authentication_failures_are_clear_and_not_retried(ct, sandbox, sleeps, status):
    box = sandbox(CustomerThermometerFake())
    box.faults.add("customer_thermometer", "/api.php", "status", status=status)
    with pytest.raises(HttpError, match=f"getThermometers returned HTTP {status}. Check 'api_key'"):
        run_update(ct, box.configuration("customer_thermometer"))
    assert len(box.requests_to("customer_thermometer")) == 1 and sleeps == []


TRANSIENT_FAULTS = [
    ("status", {"status": 429, "retry_after": "2"}),
    ("status", {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}),
    ("reset", {}), ("truncate", {}),
]
NTH_CALLS = [1, 2, 3, 4, 10]  # the nth call of a sync: each list method, and the send quota (a metric)


@pytest.mark.parametrize("fault, options, nth", [(f, o, n) for f, o in TRANSIENT_FAULTS for n in NTH_CALLS]
                         + [("slow", {"delay_s": 1.5}, n) for n in (3, 10)])  # slow costs a second: two suffice
def test_transient_faults_on_every_method_still_deliver_every_row(ct, sandbox, sleeps, fault, options, nth):
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    injected = box.faults.add("customer_thermometer", "/api.php", fault, nth=nth, **options)
    recorder, state = run_update(ct, box.configuration("customer_thermometer"))
    assert injected.fired == 1
    for table in SOURCES:
        assert synced_ids(recorder, table) == source_ids(fake, table), table
    assert len(recorder.table("metric", ["metric", "captured_date"])) == 6
    assert state["comment"] == {"cursor": "2026-06-29"}
    if options.get("retry_after") == "2":
        assert 2.0 in sleeps


@pytest.mark.parametrize("nth, method", [(1, "getThermometers"), (3, "getBlastResults"), (5, "getNumResponsesValue")])
def test_a_malformed_body_fails_clearly_and_advances_nothing(ct, sandbox, sleeps, nth, method):
    box = sandbox(CustomerThermometerFake())
    box.faults.add("customer_thermometer", "/api.php", "malformed", nth=nth)
    failed = Recorder()
    with pytest.raises(PayloadError, match=method):
        run_update(ct, box.configuration("customer_thermometer"), recorder=failed)
    if method == "getBlastResults":
        assert all("blast_result" not in checkpoint for checkpoint in failed.checkpoints)


def test_a_persistent_network_failure_fails_with_a_clear_message(ct, sandbox, sleeps):
    box = sandbox(CustomerThermometerFake())
    box.faults.add("customer_thermometer", "/api.php", "reset", times=None)
    with pytest.raises(TransportError, match="getThermometers failed after 5 attempts"):
        run_update(ct, box.configuration("customer_thermometer"))


def test_only_read_methods_are_ever_called(ct, sandbox, sleeps, monkeypatch):
    small_limits(monkeypatch, ct)
    box = sandbox(CustomerThermometerFake())
    run_update(ct, box.configuration("customer_thermometer"))
    called = {r.arg("getMethod") for r in box.requests_to("customer_thermometer")}
    assert called == {"getThermometers", "getRecipientLists", *WINDOWED.values(), *METRIC_METHODS}
    assert {r.method for r in box.requests_to("customer_thermometer")} == {"GET"}


@pytest.mark.parametrize("key, value, message", [
    ("api_key", "<YOUR_CUSTOMER_THERMOMETER_API_KEY>", "'api_key' still holds the template placeholder"),
    ("api_key", "", "'api_key' is required"),
    ("from_date", "2024-02-30", "'from_date': expected a date as YYYY-MM-DD"),
    ("from_date", "2026-07-03", "'from_date': expected a day no later than today"),
    ("lookback_days", "366", "'lookback_days': expected an integer from 0 to 365"),
    ("lookback_days", "two", "'lookback_days': expected an integer"),
    ("base_url", "app.customerthermometer.com", "'base_url': expected an http"),
])
def test_bad_configuration_names_the_key(ct, key, value, message):
    with pytest.raises(ConfigError, match=message):
        ct.validate_configuration({"api_key": "k" * 12, key: value})


def test_defaults_and_the_shipped_template(ct):
    import json

    settings = ct.validate_configuration({"api_key": "k" * 12})
    assert settings.base_url == "https://app.customerthermometer.com/api.php"
    assert (str(settings.from_date), settings.lookback_days) == ("1970-01-01", 2)
    assert "k" * 12 not in repr(settings)
    template = json.loads((ROOT / "customer_thermometer" / "configuration.json").read_text())
    assert set(template) == {"api_key", "from_date", "lookback_days", "base_url"}
    with pytest.raises(ConfigError, match="placeholder"):
        ct.validate_configuration(template)
    with pytest.raises(ConfigError, match="placeholder"):
        run_update(ct, template)


def test_schema_declares_every_table_key_and_types(ct):
    tables = {t["table"]: t for t in ct.schema({})}
    assert {name: t["primary_key"] for name, t in tables.items()} == {
        "blast_result": ["response_id"], "comment": ["response_id"], "recipient_list": ["id"],
        "thermometer": ["id"], "metric": ["metric", "captured_date"]}
    assert tables["blast_result"]["columns"]["response_date"] == "UTC_DATETIME"
    assert tables["blast_result"]["columns"]["response_bounced"] == "BOOLEAN"
    assert tables["comment"]["columns"]["date_submitted"] == "UTC_DATETIME"
    assert tables["metric"]["columns"]["value"] == "DOUBLE"
    text = {"response", "temperature_id", "recipient", "first_name", "last_name", "company", "comment", "blast_id",
            "thermometer_id", *(f"custom_{n}" for n in range(1, 13))}
    for table in ("blast_result", "comment"):
        assert {c for c, kind in tables[table]["columns"].items() if kind == "STRING"} == text | {"response_id"}
    assert tables["thermometer"]["columns"] == tables["recipient_list"]["columns"] == {"id": "STRING",
                                                                                       "name": "STRING"}
