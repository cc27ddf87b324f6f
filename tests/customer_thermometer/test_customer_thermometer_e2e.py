"""Through the SDK's own local runner (as `fivetran debug` runs it) into DuckDB, against the fake over HTTP."""

import pytest

from sandbox.customer_thermometer import CustomerThermometerFake
from tests.customer_thermometer.conftest import NOW
from tests.harness import LocalRunner

CANARY = "CANARY-ct-e2e-51d0"


@pytest.fixture
def runner(tmp_path, monkeypatch):
    local = LocalRunner("customer_thermometer", tmp_path, monkeypatch)
    monkeypatch.setattr(local.module, "utc_now", lambda: NOW)
    return local


def live_ids(runner: LocalRunner, table: str, key: str = "id") -> set:
    return {row[key] for row in runner.rows(table)}


@pytest.mark.e2e
def test_syncs_types_deletions_and_a_failed_scan_that_deletes_nothing(runner, sandbox, sleeps, capfd):
    fake = CustomerThermometerFake(api_key=CANARY, responses=300, busy_day_rows=20)
    box = sandbox(fake)
    configuration = box.configuration("customer_thermometer")
    assert runner.sync(configuration)
    assert set(runner.tables()) == {"blast_result", "comment", "recipient_list", "thermometer", "metric"}
    assert live_ids(runner, "blast_result", "response_id") == {r["response_id"] for r in fake.responses}
    assert len(runner.rows("comment")) == len(fake.comments)
    assert runner.state == {"blast_result": {"cursor": "2026-06-29"}, "comment": {"cursor": "2026-06-29"}}
    types = dict(runner.query("select column_name, data_type from information_schema.columns "
                              "where table_schema = 'tester' and table_name in ('blast_result', 'metric')"))
    assert types["response_date"] == "TIMESTAMP WITH TIME ZONE" and types["response_bounced"] == "BOOLEAN"
    assert types["response_id"] == "VARCHAR" and types["value"] == "DOUBLE" and types["captured_date"] == "DATE"
    row = next(r for r in runner.rows("blast_result") if r["response_id"] == "500097")
    assert row["response_bounced"] is True and row["response_date"].endswith("+00")

    fake.control_break("getThermometers", times=None, body="Error: temporarily unavailable")
    assert not runner.sync(configuration)
    assert live_ids(runner, "thermometer") == {r["id"] for r in fake.thermometers}  # nothing marked deleted

    fake.broken.clear()
    fake.control_break("getRecipientLists", times=None, body="<recipient_lists><recipient_list><id>7")  # cut off
    assert not runner.sync(configuration)  # after the thermometer table committed its own truncate
    assert live_ids(runner, "recipient_list") == {r["id"] for r in fake.recipient_lists}

    fake.broken.clear()
    fake.control_mutate("thermometers", delete=["3"])
    fake.control_mutate("recipient_lists", delete=["701"], insert=1)
    assert runner.sync(configuration)
    assert live_ids(runner, "thermometer") == {r["id"] for r in fake.thermometers}
    deleted = {r["id"] for r in runner.rows("thermometer", live_only=False) if r["_fivetran_deleted"]}
    assert deleted == {"3"}
    assert live_ids(runner, "recipient_list") == {r["id"] for r in fake.recipient_lists}
    assert len(runner.rows("metric")) == 6  # three syncs the same UTC day: one row per metric
    assert CANARY not in capfd.readouterr().out


@pytest.mark.e2e
def test_a_failing_sync_prints_no_key(runner, sleeps, capfd):
    assert not runner.sync({"api_key": CANARY, "base_url": "http://127.0.0.1:9/api.php"})
    out = capfd.readouterr().out
    assert "getThermometers failed after 5 attempts" in out and CANARY not in out
