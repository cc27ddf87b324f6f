"""Pindrop through the SDK's own local runner (what ``fivetran debug`` does) against the sandbox fake."""

import pytest

from sandbox.pindrop import REPORT_TYPES
from tests.harness import LocalRunner
from tests.pindrop.conftest import KEYS, TODAY, day

DAYS = [day(-4 + n) for n in range(4)]


def expected_keys(module, fake, report_type, report_day) -> set:
    """The keys of the fake's report as the connector's own parser reads the body the fake serves."""
    body = b"".join(fake.report_body(report_type, report_day)).decode("utf-8-sig")
    return {r[KEYS[report_type]] for r in module.report_records([body], report_type, report_day, KEYS[report_type])}


def assert_warehouse_equals_source(runner, fake, days):
    """Same keys per report day, no duplicate, and text kept exactly (other columns are typed by the runner)."""
    for report_type in REPORT_TYPES:
        rows = runner.rows(report_type)
        assert len({(r["report_date"], r[KEYS[report_type]]) for r in rows}) == len(rows)
        assert {r["report_date"] for r in rows} == {d.isoformat() for d in days}
        for report_day in days:
            keys = {r[KEYS[report_type]] for r in rows if r["report_date"] == report_day.isoformat()}
            assert keys == expected_keys(runner.module, fake, report_type, report_day), (report_type, report_day)
    descriptions = {r["description"] for r in runner.rows("cases")}
    assert 'Line one of case 0\nLine two, "quoted"' in descriptions


@pytest.mark.e2e
def test_local_runner_failure_keeps_progress_and_the_next_sync_converges(tmp_path, monkeypatch, fake_box):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "start_date": DAYS[0].isoformat()}
    runner = LocalRunner("pindrop", tmp_path, monkeypatch)
    monkeypatch.setattr(runner.module, "today_utc", lambda: TODAY)
    box.faults.add("pindrop", f"/v1/nightly_reports/cases/{day(-2).isoformat()}", "status", status=400)
    assert not runner.sync(configuration)
    assert runner.state["cases"] == {"last_day_delivered": day(-3).isoformat()}
    assert runner.state["calls"] == {"last_day_delivered": day(-1).isoformat()}
    assert {r["report_date"] for r in runner.rows("cases")} == {d.isoformat() for d in DAYS[:2]}
    box.faults.clear()
    assert runner.sync(configuration)
    assert all(runner.state[t] == {"last_day_delivered": day(-1).isoformat()} for t in REPORT_TYPES)
    assert sorted(runner.tables()) == sorted(REPORT_TYPES)
    assert_warehouse_equals_source(runner, fake, DAYS)
    columns = [name for (name,) in runner.query(
        "select column_name from information_schema.columns where table_schema = 'tester' "
        "and table_name = 'audit' order by ordinal_position")]
    assert {"report_date", "report_type", "id", "timestamp", "user", "action", "details"} <= set(columns)
