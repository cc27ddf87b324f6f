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


@pytest.mark.e2e
def test_text_that_looks_like_a_number_or_a_flag_lands_as_the_text_sent(runner, sandbox, sleeps):
    """XML is text; the destination would type an undeclared column from its values ("1.10" a number, "T" a
    flag) and later widen it, rewriting earlier rows. The documented fields are declared STRING."""
    fake = CustomerThermometerFake(responses=50, busy_day_rows=0)
    fake.thermometers[0]["name"], fake.thermometers[1]["name"] = "1.10", "T"
    fake.recipient_lists[0]["name"] = "007"
    fake.responses[0].update(company="1.50", custom_3="true", custom_4="F", comment="0012")
    assert runner.sync(sandbox(fake).configuration("customer_thermometer"))
    names = {row["id"]: row["name"] for row in runner.rows("thermometer")}
    assert names["1"] == "1.10" and names["2"] == "T"
    assert {row["name"] for row in runner.rows("recipient_list")} >= {"007"}
    response = next(r for r in runner.rows("blast_result") if r["response_id"] == fake.responses[0]["response_id"])
    assert (response["company"], response["custom_3"], response["custom_4"]) == ("1.50", "true", "F")
    assert response["comment"] == "0012" and response["temperature_id"] == fake.responses[0]["temperature_id"]
    types = dict(runner.query("select table_name || '.' || column_name, data_type from information_schema.columns "
                              "where table_schema = 'tester'"))
    text = ("thermometer.name", "recipient_list.name", "blast_result.company", "blast_result.custom_3",
            "blast_result.temperature_id", "comment.comment")
    assert {types[column] for column in text} == {"VARCHAR"}
