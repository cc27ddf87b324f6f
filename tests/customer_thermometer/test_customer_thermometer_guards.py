"""Customer Thermometer guards: checkpoints that commit finished work before a later call fails, the shipped
row limits and checkpoint cadence, the restart floor, and MySQL's zero date."""

import pytest
import responses

from sandbox.customer_thermometer import BUSY_DAY, CustomerThermometerFake
from shared.parsing import PayloadError
from tests.customer_thermometer.test_customer_thermometer_connector import calls, committed_upserts
from tests.customer_thermometer.test_customer_thermometer_xml import BLAST_RESULT, KEY, answer
from tests.harness import Recorder, run_update


def sync_failing_at(ct, sandbox, method: str, error_text: str) -> tuple[CustomerThermometerFake, Recorder]:
    """A first sync whose every ``method`` call answers ``error_text``: it fails naming the method."""
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    fake.control_break(method, times=None, body=error_text)
    failed = Recorder()
    with pytest.raises(PayloadError, match=method):
        run_update(ct, box.configuration("customer_thermometer"), recorder=failed)
    return fake, failed


def test_a_failing_metric_call_keeps_the_windowed_tables_committed(ct, sandbox, sleeps):
    """Docstring/README: 'A checkpoint is written ... at the end of the table'. The metric step comes after the
    walks; when it fails, both walks must already be committed, or the next sync re-reads everything since the
    old cursor (on a first sync: from 1970)."""
    fake, failed = sync_failing_at(ct, sandbox, "getSendQuota", "Error: quota service down")
    last = failed.checkpoints[-1]
    assert last["blast_result"] == {"cursor": "2026-06-29"} and last["comment"] == {"cursor": "2026-06-29"}
    for table, source in (("blast_result", fake.responses), ("comment", fake.comments)):
        assert {r["response_id"] for r in committed_upserts(failed, table)} == {r["response_id"] for r in source}


def test_a_full_list_is_committed_before_the_next_list_is_read(ct, sandbox, sleeps):
    """Docstring: 'only then are they truncated and re-upserted, with one checkpoint'. A later failure must not
    leave the thermometer refresh uncommitted."""
    fake, failed = sync_failing_at(ct, sandbox, "getRecipientLists", "Error: temporarily unavailable")
    kinds = [(kind, name) for kind, name, _ in failed.operations]
    assert kinds[-1] == ("checkpoint", None)  # the thermometer truncate + rows are committed together
    assert {r["id"] for r in committed_upserts(failed, "thermometer")} == {r["id"] for r in fake.thermometers}


def test_a_full_day_is_read_again_with_limit_100000(ct, sandbox, sleeps):
    """README: 'a single day that is still full is read once more with limit=100000'."""
    fake = CustomerThermometerFake(responses=20, busy_day_rows=10_050)
    box = sandbox(fake)
    recorder, _ = run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "2024-03-01"})
    busy = BUSY_DAY.isoformat()
    lone = [c for c in calls(box, "getBlastResults") if c.arg("fromDate") == c.arg("toDate") == busy]
    assert [c.arg("limit") for c in lone] == ["10000", "100000"]
    on_busy = {r["response_id"] for r in fake.responses if r["response_date"].startswith(busy)}
    assert len(on_busy) >= 10_050
    assert on_busy <= {key[0] for key in recorder.table("blast_result", ["response_id"])}


def test_a_clock_restart_never_reads_before_from_date(ct, sandbox, sleeps):
    """The restart after a cursor that ran ahead is floored at from_date like every other start."""
    fake = CustomerThermometerFake()
    box = sandbox(fake)
    state = {"blast_result": {"cursor": "2026-08-01"}, "comment": {"cursor": "2026-07-01"}}
    recorder, _ = run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "2026-07-01"}, state)
    assert calls(box, "getBlastResults")[0].arg("fromDate") == "2026-07-01"


def test_a_cursor_on_a_from_date_of_today_is_not_called_a_clock_that_ran_ahead(ct, sandbox, sleeps):
    """from_date may be today; the cursor the first sync then saves (today) is one a sync could have saved, so the
    second sync must not warn 'did the host clock run ahead?' (a false alarm for the user)."""
    box = sandbox(CustomerThermometerFake())
    configuration = {**box.configuration("customer_thermometer"), "from_date": "2026-07-02"}  # NOW's day
    _, state = run_update(ct, configuration)
    assert state["blast_result"] == {"cursor": "2026-07-02"}
    ct.log.lines.clear()
    run_update(ct, configuration, state)
    assert [line for level, line in ct.log.lines if "run ahead" in line] == []


def test_a_long_walk_checkpoints_about_every_5000_rows(ct, sandbox, sleeps):
    """README: 'A checkpoint is written at window boundaries once about 5,000 rows are pending'. With the shipped
    limits, a first sync of 12,000 responses must commit its progress mid-walk, so a failure late in a long
    backfill does not start it over."""
    fake = CustomerThermometerFake(responses=12_000, busy_day_rows=0)
    box = sandbox(fake)
    recorder, _ = run_update(ct, {**box.configuration("customer_thermometer"), "from_date": "2019-01-01"})
    upserted = 0
    pending_at_checkpoint = []
    for kind, name, data in recorder.operations:
        if kind == "upsert" and name == "blast_result":
            upserted += 1
        elif kind == "checkpoint" and "window_days" in data.get("blast_result", {}):
            pending_at_checkpoint.append(upserted)
            upserted = 0
    assert pending_at_checkpoint, "no checkpoint inside the walk"
    assert all(5_000 <= n < 15_000 for n in pending_at_checkpoint)


@responses.activate
def test_a_mysql_zero_date_is_null_not_an_untyped_value(ct, sleeps):
    """README: 'MySQL's zero date 0000-00-00 00:00:00 and empty values are NULL' -- not a value that failed to
    parse (which would add a `<column>_raw` column holding the zero date, and warn)."""
    answer({"getBlastResults": BLAST_RESULT})
    recorder, _ = run_update(ct, {"api_key": KEY})
    first = recorder.table("blast_result", ["response_id"])[("88001",)]
    assert first["blast_date"] is None and "blast_date_raw" not in first
    assert not [line for level, line in ct.log.lines if level == "WARNING" and "blast_date" in line]
