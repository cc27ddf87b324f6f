"""Pindrop sync against its sandbox fake over real HTTP: tables and keys, progress per report type, the 404 rules,
catch-up, failures, faults and tokens."""

import functools

import pytest

from sandbox.pindrop import COLUMNS, REPORT_TYPES
from shared.auth import OAuth2ClientCredentials
from shared.http_client import HttpError, TransportError
from shared.parsing import PayloadError
from tests.harness import Recorder, run_update
from tests.pindrop.conftest import (
    KEYS,
    TODAY,
    assert_matches_source,
    day,
    delivered_content,
    rows_by_day,
    source_content,
)

LAST_WEEK = [day(-7 + n) for n in range(7)]  # the fake's configuration starts 7 days ago; today is not ready


def report_requests(box, report_type=None):
    return [r for r in box.requests_to("pindrop", "/v1/nightly_reports/" + (report_type or ""))]


def requested_days(box, report_type):
    return [r.path.rsplit("/", 1)[1] for r in report_requests(box, report_type + "/")]


def test_every_table_and_key_holds_every_row(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    recorder, state = run_update(pindrop, configuration)
    assert_matches_source(recorder, fake, LAST_WEEK)
    for report_type in REPORT_TYPES:
        rows = recorder.upserts(report_type)
        assert len(rows) == sum(fake.row_count(report_type, d) for d in LAST_WEEK), "a row was delivered twice"
        assert all(row[KEYS[report_type]] for row in rows), "a null or empty primary key"
        assert len({(r["report_date"], r[KEYS[report_type]]) for r in rows}) == len(rows), "two rows share a key"
        assert all(list(row)[:2] == ["report_date", "report_type"] and row["report_type"] == report_type
                   for row in rows)
        assert set(rows[0]) == {"report_date", "report_type", KEYS[report_type], *COLUMNS[report_type]}
        assert not any(column.startswith("_fivetran") for row in rows for column in row)
        assert state[report_type] == {"last_day_delivered": day(-1).isoformat()}


def test_values_are_trimmed_empty_is_null_and_quoted_text_survives(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(pindrop, configuration)
    blacklist = rows_by_day(recorder, "blacklist")[day(-1).isoformat()]
    padded = [row for row in blacklist if row["phone_number"].endswith("0000002")]
    assert padded and padded[0]["phone_number"] == padded[0]["phone_number"].strip()
    assert any(row["notes"] is None for row in blacklist)
    assert any(row["notes"] and '"stop",\nthen' in row["notes"] for row in blacklist)
    cases = recorder.upserts("cases")
    assert cases[0]["description"] == 'Line one of case 0\nLine two, "quoted"'
    calls = recorder.upserts("calls")  # served with a BOM: the first column is still "id"
    assert calls[0]["id"].startswith("call-") and "\ufeffid" not in calls[0]
    enrollment = recorder.upserts("enrollment")
    assert {row["voiceprint_status"] for row in enrollment} <= {"enrolled", "pending", "failed"}


def test_rows_without_their_key_get_derived_keys_and_duplicates_stay_distinct(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(pindrop, configuration)
    risk = rows_by_day(recorder, "account_risk")[day(-1).isoformat()]
    assert all(row["id"].startswith("row-") for row in risk)
    assert len(risk) == fake.row_count("account_risk", day(-1))  # the repeated rows were not collapsed
    assert any(row["id"].endswith("-2") for row in risk)  # a second occurrence of identical content
    enrollment = recorder.upserts("enrollment")
    derived = [row for row in enrollment if row["id"].startswith("row-")]
    assert derived and len({row["id"] for row in derived}) == len(derived)
    assert all(row["id"].startswith("enr-") for row in enrollment if row not in derived)


def test_schema_declares_every_table_with_its_key(pindrop):
    tables = {t["table"]: t for t in pindrop.schema({})}
    assert set(tables) == set(KEYS)
    for report_type, key in KEYS.items():
        assert tables[report_type]["primary_key"] == ["report_date", key]
        assert tables[report_type]["columns"] == {"report_date": "STRING", "report_type": "STRING", key: "STRING"}


def test_one_request_per_report_day_and_a_checkpoint_after_each(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(pindrop, configuration)
    for report_type in REPORT_TYPES:
        assert requested_days(box, report_type) == [d.isoformat() for d in LAST_WEEK + [TODAY]]
    assert len(recorder.checkpoints) == len(REPORT_TYPES) * len(LAST_WEEK)  # one per delivered report
    progress = [c["calls"]["last_day_delivered"] for c in recorder.checkpoints if "calls" in c]
    assert list(dict.fromkeys(progress)) == [d.isoformat() for d in LAST_WEEK]
    assert fake.tokens_issued == 1 and len(box.requests_to("pindrop", "/oauth2/token")) == 1


def test_next_sync_starts_at_the_last_day_minus_the_lookback(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    _, state = run_update(pindrop, configuration)
    box.requests.clear()
    _, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "calls") == [day(-1).isoformat(), TODAY.isoformat()]  # lookback_days=1
    assert state2 == state
    box.requests.clear()
    run_update(pindrop, {**configuration, "lookback_days": "0"}, state)
    assert requested_days(box, "calls") == [TODAY.isoformat()]
    box.requests.clear()
    recorder, state3 = run_update(pindrop, {**configuration, "lookback_days": "3"}, state)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -2, -1, 0)]
    progress = [c["calls"]["last_day_delivered"] for c in recorder.checkpoints]
    assert progress == sorted(progress) and progress[0] == day(-1).isoformat()  # never moves back


def test_start_date_is_a_floor_the_lookback_never_crosses(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    state = {"calls": {"last_day_delivered": day(-3).isoformat()}}
    run_update(pindrop, {**configuration, "report_types": "calls", "lookback_days": "5",
                         "start_date": day(-4).isoformat()}, state)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-4, -3, -2, -1, 0)]
    box.requests.clear()
    run_update(pindrop, {**configuration, "report_types": "calls", "start_date": day(-1).isoformat()}, state)
    assert requested_days(box, "calls") == [day(-1).isoformat(), TODAY.isoformat()]  # raised: days before it skipped


def test_default_start_date_is_30_days_before_today(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    configuration.pop("start_date")
    run_update(pindrop, {**configuration, "report_types": "audit"})
    assert requested_days(box, "audit")[0] == day(-30).isoformat()
    assert len(requested_days(box, "audit")) == 31
    assert report_requests(box) == report_requests(box, "audit/")  # only the chosen report type


def test_a_recent_404_stops_that_type_and_the_day_is_asked_again(pindrop, fake_box, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box(missing={("calls", day(-2).isoformat())})
    recorder, state = run_update(pindrop, configuration)
    assert state["calls"] == {"last_day_delivered": day(-3).isoformat()}
    assert requested_days(box, "calls")[-1] == day(-2).isoformat()  # nothing after the gap was asked for
    assert state["cases"] == {"last_day_delivered": day(-1).isoformat()}  # other types go on
    assert "calls: the report for 2026-03-13 is not generated yet" in log.text()
    fake.control_set_missing("calls", day(-2).isoformat(), missing=False)
    box.requests.clear()
    recorder2, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -2, -1, 0)]
    assert state2["calls"] == {"last_day_delivered": day(-1).isoformat()}
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations
    assert_matches_source(combined, fake, LAST_WEEK)


@pytest.mark.parametrize("age, passed", [(3, False), (4, True)])
def test_the_grace_window_includes_its_last_day(pindrop, fake_box, sleeps, age, passed):
    fake, box, configuration = fake_box(missing={("cases", day(-age).isoformat())})
    _, state = run_update(pindrop, {**configuration, "missing_report_grace_days": "3"})
    expected = day(-1) if passed else day(-age - 1)
    assert state["cases"] == {"last_day_delivered": expected.isoformat()}


def test_an_older_404_is_logged_as_missing_and_passed(pindrop, fake_box, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box(missing={("cases", day(-6).isoformat())})
    recorder, state = run_update(pindrop, configuration)
    assert state["cases"] == {"last_day_delivered": day(-1).isoformat()}
    assert "cases: no report for 2026-03-09 (HTTP 404, older than 3 days); passed as missing" in log.text()
    assert day(-6).isoformat() not in rows_by_day(recorder, "cases")
    box.requests.clear()
    run_update(pindrop, configuration, state)
    assert day(-6).isoformat() not in requested_days(box, "cases")


def test_not_generated_days_are_picked_up_as_they_appear(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box(not_ready_days=3)  # today, yesterday and the day before: 404
    recorder, state = run_update(pindrop, configuration)
    assert state["audit"] == {"last_day_delivered": day(-3).isoformat()}
    fake.not_ready_days = 1
    recorder2, state2 = run_update(pindrop, configuration, state)
    assert state2["audit"] == {"last_day_delivered": day(-1).isoformat()}
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations
    assert_matches_source(combined, fake, LAST_WEEK)


def test_a_recent_empty_report_is_asked_again_until_it_has_rows(pindrop, fake_box, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box(empty={("calls", day(-3).isoformat())})
    recorder, state = run_update(pindrop, configuration)
    assert state["calls"] == {"last_day_delivered": day(-1).isoformat(), "empty_days": [day(-3).isoformat()]}
    assert state["cases"] == {"last_day_delivered": day(-1).isoformat()}
    assert "calls: the report for 2026-03-12 has no rows yet; it is asked for again each sync" in log.text()
    box.requests.clear()
    recorder2, state2 = run_update(pindrop, configuration, state)  # still empty: asked for, kept
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -1, 0)]
    assert state2["calls"]["empty_days"] == [day(-3).isoformat()]
    fake.control_set_empty("calls", day(-3).isoformat(), empty=False)
    box.requests.clear()
    recorder3, state3 = run_update(pindrop, configuration, state2)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -1, 0)]
    assert state3["calls"] == {"last_day_delivered": day(-1).isoformat()}
    assert "calls: the report for 2026-03-12, empty before, now has" in log.text()
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations + recorder3.operations
    assert_matches_source(combined, fake, LAST_WEEK)


def test_an_empty_report_that_answers_404_later_does_not_hold_up_the_days_after_it(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box(empty={("calls", day(-3).isoformat())})
    _, state = run_update(pindrop, configuration)
    fake.control_set_missing("calls", day(-3).isoformat())  # the server now says "no report" for that day
    box.requests.clear()
    _, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -1, 0)]  # went on past it
    assert state2["calls"] == {"last_day_delivered": day(-1).isoformat(), "empty_days": [day(-3).isoformat()]}


def test_an_empty_report_that_answers_404_is_dropped_once_older_than_the_grace_window(pindrop, fake_box, sleeps,
                                                                                    monkeypatch):
    """Else it stays in empty_days for ever: the state grows by a day, and every sync asks for one more report."""
    fake, box, configuration = fake_box(empty={("calls", day(-3).isoformat())})
    _, state = run_update(pindrop, configuration)
    assert state["calls"]["empty_days"] == [day(-3).isoformat()]
    fake.control_set_missing("calls", day(-3).isoformat())  # the empty report is not kept
    later = day(1)  # day -3 is now 4 days old: past the 3-day window
    fake.control_set_today(later.isoformat())
    monkeypatch.setattr(pindrop, "today_utc", lambda: later)
    _, state2 = run_update(pindrop, configuration, state)
    assert "empty_days" not in state2["calls"]
    box.requests.clear()
    run_update(pindrop, configuration, state2)
    assert day(-3).isoformat() not in requested_days(box, "calls")


def test_a_delivered_report_that_answers_404_when_read_again_does_not_hold_up_the_days_after_it(
        pindrop, fake_box, sleeps, monkeypatch, log):
    """The lookback reads the last delivered day again; if its report is gone by then (how long Pindrop keeps
    reports is unconfirmed), the new days after it must still come, or a short retention would lose them all."""
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box()
    _, state = run_update(pindrop, configuration)
    delivered = state["calls"]["last_day_delivered"]
    fake.control_set_missing("calls", delivered)
    later = day(1)
    fake.control_set_today(later.isoformat())
    monkeypatch.setattr(pindrop, "today_utc", lambda: later)
    box.requests.clear()
    recorder, state2 = run_update(pindrop, configuration, state)
    asked = requested_days(box, "calls")
    assert asked[0] == delivered and len(asked) > 1
    assert state2["calls"]["last_day_delivered"] > delivered
    assert {row["report_date"] for row in recorder.upserts("calls")} == {state2["calls"]["last_day_delivered"]}
    assert f"the report for {delivered}, delivered before, answers HTTP 404 now" in log.text()


def test_an_empty_report_is_final_once_older_than_the_grace_window(pindrop, fake_box, sleeps, monkeypatch):
    fake, box, configuration = fake_box(empty={("calls", day(-5).isoformat()), ("calls", day(-3).isoformat())})
    _, state = run_update(pindrop, configuration)
    assert state["calls"]["empty_days"] == [day(-3).isoformat()]  # 5 days old is past the 3-day window already
    later = day(2)  # the empty day is now 5 days old: asked for one last time, then final
    fake.control_set_today(later.isoformat())
    monkeypatch.setattr(pindrop, "today_utc", lambda: later)
    box.requests.clear()
    _, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "calls")[0] == day(-3).isoformat()
    assert state2["calls"] == {"last_day_delivered": day(1).isoformat()}
    box.requests.clear()
    run_update(pindrop, configuration, state2)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (1, 2)]


def test_an_empty_day_before_a_raised_start_date_is_not_asked_again(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box(empty={("audit", day(-3).isoformat())})
    _, state = run_update(pindrop, configuration)
    assert state["audit"]["empty_days"] == [day(-3).isoformat()]
    box.requests.clear()
    _, state2 = run_update(pindrop, {**configuration, "start_date": day(-2).isoformat()}, state)
    assert requested_days(box, "audit") == [day(n).isoformat() for n in (-1, 0)]
    assert state2["audit"] == {"last_day_delivered": day(-1).isoformat()}


def test_a_saved_day_written_as_a_date_time_is_read_as_its_day(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    state = {"calls": {"last_day_delivered": f"{day(-3).isoformat()}T00:00:00Z"}, "audit": {"last_day_delivered": ""}}
    _, final = run_update(pindrop, {**configuration, "report_types": "calls,audit"}, state)
    assert requested_days(box, "calls")[0] == day(-3).isoformat()  # lookback 1: the saved day again
    assert requested_days(box, "audit")[0] == day(-7).isoformat()  # blank: none, the start date
    assert final["calls"] == {"last_day_delivered": day(-1).isoformat()}


def test_a_sync_interrupted_for_a_week_catches_up_every_missed_day(pindrop, fake_box, sleeps, monkeypatch):
    fake, box, configuration = fake_box()
    recorder, state = run_update(pindrop, configuration)
    later = day(9)
    fake.control_set_today(later.isoformat())
    monkeypatch.setattr(pindrop, "today_utc", lambda: later)
    box.requests.clear()
    recorder2, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "enrollment") == [day(n).isoformat() for n in range(-1, 10)]
    assert all(state2[t] == {"last_day_delivered": day(8).isoformat()} for t in REPORT_TYPES)
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations
    assert_matches_source(combined, fake, [day(n) for n in range(-7, 9)])


def test_a_clock_that_ran_ahead_once_does_not_leave_the_days_it_passed_as_missing(pindrop, fake_box, sleeps,
                                                                                  monkeypatch, log):
    """Ahead by a month, the sync passes today's report (not generated yet) as 27 days old and missing."""
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box()
    configuration = {**configuration, "report_types": "calls", "start_date": day(-3).isoformat()}
    monkeypatch.setattr(pindrop, "today_utc", lambda: day(30))
    recorder, state = run_update(pindrop, configuration)
    assert state["calls"] == {"last_day_delivered": day(26).isoformat()}  # day(0) on: 404, passed as missing
    fake.control_set_today(day(1).isoformat())  # the clock is right again, a day later
    monkeypatch.setattr(pindrop, "today_utc", lambda: day(1))
    box.requests.clear()
    recorder2, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "calls") == [day(n).isoformat() for n in (-3, -2, -1, 0, 1)]  # the grace window on
    assert state2["calls"] == {"last_day_delivered": day(0).isoformat()}
    assert "the saved state's calls last_day_delivered 2026-04-10 is after 2026-03-16" in log.text()
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations
    assert_matches_source(combined, fake, [day(n) for n in range(-3, 1)], ["calls"])


def test_a_failing_report_leaves_progress_before_it_and_the_next_sync_fills_the_gap(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    box.faults.add("pindrop", f"/v1/nightly_reports/cases/{day(-4).isoformat()}", "status", status=500, times=None)
    failed = Recorder()
    with pytest.raises(HttpError, match="GET cases report for 2026-03-11 returned HTTP 500 after 5 attempts"):
        run_update(pindrop, configuration, recorder=failed)
    state = failed.checkpoints[-1]
    assert state["cases"] == {"last_day_delivered": day(-5).isoformat()}
    for other in ("blacklist", "calls", "audit", "account_risk", "enrollment"):  # before and after: all delivered
        assert state[other] == {"last_day_delivered": day(-1).isoformat()}, other
    box.faults.clear()
    box.requests.clear()
    healed, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "cases")[0] == day(-5).isoformat()
    assert all(state2[t] == {"last_day_delivered": day(-1).isoformat()} for t in REPORT_TYPES)
    combined = Recorder()
    combined.operations = _committed(failed) + healed.operations
    assert_matches_source(combined, fake, LAST_WEEK)


@pytest.mark.parametrize("status", [400, 403, 410])
def test_other_client_errors_are_not_retried_and_keep_progress(pindrop, fake_box, sleeps, status):
    """A report's own error stops its type and fails the sync once the other types are synced; a 403 (the token
    refused) would fail every type the same way, so it stops the sync at once."""
    fake, box, configuration = fake_box()
    box.faults.add("pindrop", f"/v1/nightly_reports/blacklist/{day(-3).isoformat()}", "status", status=status)
    failed = Recorder()
    with pytest.raises(HttpError, match=f"HTTP {status}") as error:
        run_update(pindrop, configuration, recorder=failed)
    assert error.value.status == status
    assert failed.checkpoints[-1]["blacklist"] == {"last_day_delivered": day(-4).isoformat()}
    others = {t: v for t, v in failed.checkpoints[-1].items() if t != "blacklist"}
    if status == 403:
        assert others == {}
    else:
        assert others == {t: {"last_day_delivered": day(-1).isoformat()} for t in REPORT_TYPES if t != "blacklist"}
    assert sleeps == []
    assert len(requested_days(box, "blacklist")) == 5  # four delivered, the failing one asked once


def test_a_malformed_report_fails_clearly_and_advances_nothing(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    box.faults.add("pindrop", f"/v1/nightly_reports/audit/{day(-2).isoformat()}", "malformed")
    failed = Recorder()
    with pytest.raises(PayloadError, match="audit report for 2026-03-13: CSV row at line 3 has 5 fields"):
        run_update(pindrop, configuration, recorder=failed)
    assert failed.checkpoints[-1]["audit"] == {"last_day_delivered": day(-3).isoformat()}
    # At once: the types after audit are not synced, so no later checkpoint commits audit's partial rows.
    assert not any(report_requests(box, later + "/") for later in ("cases", "account_risk", "enrollment"))
    assert all(later not in failed.checkpoints[-1] for later in ("cases", "account_risk", "enrollment"))


def test_a_report_cut_off_every_time_fails_and_the_next_sync_delivers_it_once(pindrop, fake_box, sleeps, monkeypatch):
    monkeypatch.setattr(pindrop, "__FLUSH_EVERY_ROWS", 100)
    fake, box, configuration = fake_box(rows_per_report={"enrollment": 3000})
    box.faults.add("pindrop", f"/v1/nightly_reports/enrollment/{day(-2).isoformat()}", "truncate", times=None)
    failed = Recorder()
    with pytest.raises(TransportError, match="enrollment report for 2026-03-13 failed after 5 attempts"):
        run_update(pindrop, configuration, recorder=failed)
    assert failed.checkpoints[-1]["enrollment"] == {"last_day_delivered": day(-3).isoformat()}
    box.faults.clear()
    healed, _ = run_update(pindrop, configuration, failed.checkpoints[-1])
    combined = Recorder()
    combined.operations = _committed(failed) + healed.operations
    assert_matches_source(combined, fake, LAST_WEEK, report_types=["enrollment"])


def test_a_large_report_flushes_without_claiming_it_is_done(pindrop, fake_box, sleeps, monkeypatch, log):
    monkeypatch.setattr(pindrop, "__FLUSH_EVERY_ROWS", 10)
    monkeypatch.setattr(pindrop, "__LOG_EVERY_ROWS", 20)
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box(rows_per_report=25)
    recorder, _ = run_update(pindrop, {**configuration, "report_types": "calls", "start_date": day(-2).isoformat()})
    kinds = [kind if kind != "checkpoint" else ("checkpoint", data["calls"].get("last_day_delivered"))
             for kind, _, data in recorder.operations]
    first_report = [k for k in kinds[:kinds.index(("checkpoint", day(-2).isoformat())) + 1] if k != "upsert"]
    assert first_report == [("checkpoint", None), ("checkpoint", None), ("checkpoint", day(-2).isoformat())]
    assert "calls: report for 2026-03-13: 20 rows so far" in log.text()


TRANSIENT_FAULTS = [
    ("status", {"status": 429, "retry_after": "2"}),
    ("status", {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}),
    ("slow", {"delay_s": 1.2}), ("reset", {}), ("truncate", {}),
]


@pytest.mark.parametrize("fault, options", TRANSIENT_FAULTS)
@pytest.mark.parametrize("route", ["/oauth2/token", "/v1/nightly_reports/account_risk/", "/v1/nightly_reports/"])
def test_transient_faults_still_deliver_every_row_once(pindrop, fake_box, sleeps, fault, options, route):
    fake, box, configuration = fake_box(rows_per_report={"account_risk": 1500})  # bodies of several chunks
    box.faults.add("pindrop", route, fault, nth=1 if route == "/oauth2/token" else 2, **options)
    recorder, state = run_update(pindrop, {**configuration, "report_types": "calls,account_risk"})
    assert_matches_source(recorder, fake, LAST_WEEK, report_types=["calls", "account_risk"])
    assert state == {t: {"last_day_delivered": day(-1).isoformat()} for t in ("calls", "account_risk")}
    assert sleeps, "the fault was not retried"
    if options.get("retry_after") == "2":
        assert 2.0 in sleeps


def test_one_token_serves_the_whole_sync(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box(send_expires_in=False)  # the default lifetime (3600 s) applies
    run_update(pindrop, configuration)
    assert fake.tokens_issued == 1
    token_call = box.requests_to("pindrop", "/oauth2/token")[0]
    assert token_call.method == "POST" and "authorization" not in token_call.headers  # form body, not Basic
    assert b"grant_type=client_credentials" in token_call.body and b"client_secret=" in token_call.body
    report = report_requests(box)[0]
    assert report.headers["authorization"].startswith("Bearer pdtok-1-")


def test_the_token_is_renewed_before_it_expires(pindrop, fake_box, sleeps, monkeypatch):
    clock = iter(range(1_000_000, 10_000_000, 200))  # every look at the clock: 200 s later
    monkeypatch.setattr(pindrop, "OAuth2ClientCredentials",
                        functools.partial(OAuth2ClientCredentials, clock=lambda: next(clock)))
    fake, box, configuration = fake_box(token_lifetime_s=1000)  # renewed 60 s before expiry: every 940 s
    recorder, _ = run_update(pindrop, configuration)
    assert fake.tokens_issued > 5
    assert not [r for r in report_requests(box) if r.headers["authorization"] not in
                [f"Bearer {t}" for t in fake.tokens]]
    assert_matches_source(recorder, fake, LAST_WEEK)


def test_a_401_renews_the_token_once_and_the_sync_goes_on(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    box.faults.add("pindrop", "/v1/nightly_reports/cases/", "expired_token", nth=3)
    recorder, _ = run_update(pindrop, configuration)
    assert fake.tokens_issued == 2
    assert_matches_source(recorder, fake, LAST_WEEK)


def test_a_token_that_expires_on_the_server_mid_sync_is_renewed_once(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()

    class ExpireAfterThirdReport(Recorder):
        def checkpoint(self, state):
            super().checkpoint(state)
            if len(self.checkpoints) == 3:
                fake.control_expire_tokens()  # the server now refuses the token the connector still holds

    recorder, _ = run_update(pindrop, configuration, recorder=ExpireAfterThirdReport())
    assert fake.tokens_issued == 2
    refused = [r for r in report_requests(box) if r.headers["authorization"] == report_requests(box)[0].headers[
        "authorization"]]
    assert len(refused) == 4  # three reports, then the one answered 401 and sent again with the new token
    assert_matches_source(recorder, fake, LAST_WEEK)


def test_a_token_refused_twice_fails_loudly(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    box.faults.add("pindrop", "/v1/nightly_reports/", "expired_token", times=None)
    with pytest.raises(HttpError, match="HTTP 401.*same region as 'token_url'") as error:
        run_update(pindrop, configuration)
    assert error.value.status == 401
    assert fake.tokens_issued == 2 and len(report_requests(box)) == 2


def test_wrong_credentials_fail_at_the_token_request(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    with pytest.raises(HttpError, match="token request .* returned HTTP 401. Check 'client_id' and 'client_secret'"):
        run_update(pindrop, {**configuration, "client_secret": "not-the-secret"})
    assert report_requests(box) == [] and sleeps == []


def test_changed_reports_inside_the_lookback_converge(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    recorder, state = run_update(pindrop, configuration)
    yesterday = day(-1).isoformat()
    for report_type in REPORT_TYPES:
        fake.control_regenerate(report_type, yesterday, extra=3, edited=[0, 1], reverse=True)
    recorder2, _ = run_update(pindrop, configuration, state)
    combined = Recorder()
    combined.operations = recorder.operations + recorder2.operations
    for report_type in ("calls", "cases", "blacklist", "enrollment"):  # own keys: edits replace, extras add
        assert_matches_source(combined, fake, LAST_WEEK, report_types=[report_type])
    for report_type in ("audit", "account_risk"):  # content keys: extras add, unchanged rows keep their key
        before = {r["id"] for r in rows_by_day(recorder, report_type)[yesterday]}
        after = {r["id"] for r in rows_by_day(recorder2, report_type)[yesterday]}
        assert len(after - before) == 3 + 2 and len(before - after) == 2
        kept = {r["id"] for r in rows_by_day(combined, report_type)[yesterday]}
        assert kept == before | after  # a report never deletes: the edited rows' old versions stay


def test_progress_lines_per_report_and_a_closing_line_per_table(pindrop, fake_box, sleeps, log, monkeypatch):
    monkeypatch.setattr(pindrop, "log", log)
    monkeypatch.setattr(pindrop, "TableProgress", functools.partial(pindrop.TableProgress, log_every_seconds=0))
    fake, box, configuration = fake_box()
    run_update(pindrop, {**configuration, "report_types": "calls,audit"})
    lines = log.text().splitlines()
    for report_type in ("calls", "audit"):
        total = sum(fake.row_count(report_type, d) for d in LAST_WEEK)
        first = fake.row_count(report_type, LAST_WEEK[0])
        assert f"{report_type}: sync started" in lines
        assert f"{report_type}: {first} rows so far from 1 reports (report for {LAST_WEEK[0]})" in lines
        assert lines.count(f"{report_type}: {total} rows delivered from 7 reports; delivered through {day(-1)}") == 1
    assert len(lines) == 2 * (1 + 7 + 1 + 1)  # started, 7 reports, today not generated yet, closing


def test_rate_limit_setting_paces_requests_client_side(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    run_update(pindrop, {**configuration, "report_types": "calls", "requests_per_second": "0.5"})
    assert len(sleeps) >= 7 and all(0 < wait <= 2.0 for wait in sleeps)  # one request every 2 s
    sleeps.clear()
    run_update(pindrop, {**configuration, "report_types": "calls", "requests_per_second": "0"})
    assert sleeps == []  # 0 (like empty) means no limit


def test_rate_limit_setting_builds_a_client_side_limiter(pindrop):
    base = {"client_id": "id-123", "client_secret": "secret-123"}
    assert pindrop.new_client(pindrop.validate_configuration(base)).limiter is None
    limited = pindrop.new_client(pindrop.validate_configuration({**base, "requests_per_second": "4"}))
    assert limited.limiter._limits == [(1.0, 4)]
    slow = pindrop.new_client(pindrop.validate_configuration({**base, "requests_per_second": "0.5"}))
    assert slow.limiter._limits == [(2.0, 1)]


def _committed(recorder: Recorder) -> list:
    """Operations up to the last checkpoint: what the destination keeps when the sync then fails."""
    last = max(i for i, (kind, _, _) in enumerate(recorder.operations) if kind == "checkpoint")
    return recorder.operations[:last + 1]


def test_an_empty_report_on_the_start_date_is_asked_again_and_its_rows_arrive(pindrop, fake_box, sleeps):
    """README: an empty recent report 'is delivered ... and kept in the type's empty_days; every sync asks for it
    again until it has rows'; 'A raised start_date drops the empty days before it' (before it, not on it). A new
    connection whose start_date is a recent day must not lose that day's rows when its report was empty at first."""
    fake, box, configuration = fake_box(empty={("audit", day(-3).isoformat())})
    configuration = {**configuration, "report_types": "audit", "start_date": day(-3).isoformat()}
    _, state = run_update(pindrop, configuration)
    assert state["audit"] == {"last_day_delivered": day(-1).isoformat(), "empty_days": [day(-3).isoformat()]}
    fake.control_set_empty("audit", day(-3).isoformat(), empty=False)  # the report is filled later
    box.requests.clear()
    recorder, state2 = run_update(pindrop, configuration, state)
    assert requested_days(box, "audit") == [day(n).isoformat() for n in (-3, -1, 0)]
    assert state2["audit"] == {"last_day_delivered": day(-1).isoformat()}
    delivered = rows_by_day(recorder, "audit").get(day(-3).isoformat(), [])
    assert delivered and delivered_content(delivered, "audit") == source_content(fake, "audit", day(-3))
