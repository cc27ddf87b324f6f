"""tools/bench.py: the targets' boundaries, the exit status and table of main(), how measure() combines its
children into the ratio, the incremental share and the requests, the oracle against what each connector really
asks of the bench's fake at a small size, the final flush in the buffer count and the transport replay's token."""

import base64
import json
import sys
import textwrap

import pytest

from sandbox.server import Sandbox
from tests.harness import ROOT, load_connector, run_update
from tools import bench


def _row(scale=100_000, **changes) -> dict:
    """A measurement that meets every target; ``changes`` move one figure."""
    row = {"connector": "pindrop", "rows": scale, "scale": scale, "seconds": 10.0, "rows_per_s": scale / 10,
           "ingest_s": 7.0, "transport_s": 1.0, "ratio": 1.0, "requests": 3, "expected": 3, "how": "h",
           "incremental_requests": 2, "incremental_expected": 2, "incremental_s": 0.1, "incremental_share": 0.01,
           "connector_mb": 80.0, "buffer_max": 10_000, "peak_mb": 170.0, "checkpoints": 10, "rename_s": 0.5,
           "runner_peak_mb": 150.0}
    row.update(changes)
    return row


def test_time_target_is_at_most_1_25_at_100000_rows_and_above():
    assert bench.check_targets([_row(ratio=1.25)], million=False) == []  # "<= 1.25" holds at 1.25
    missed = bench.check_targets([_row(ratio=1.26)], million=False)
    assert len(missed) == 1 and missed[0].startswith("pindrop at 100,000 rows: time 10.00 s is 1.26 x the ceiling")
    assert bench.check_targets([_row(scale=10_000, ratio=1.6)], million=False) == []  # not a target at 10,000


def test_request_targets_are_equality_with_the_oracle_for_both_syncs():
    assert bench.check_targets([_row(requests=2)], million=False) == [
        "pindrop at 100,000 rows: 2 requests, the minimum is 3 (h)"]  # fewer than the minimum is a miss too
    assert bench.check_targets([_row(requests=4)], million=False) == [
        "pindrop at 100,000 rows: 4 requests, the minimum is 3 (h)"]
    assert bench.check_targets([_row(incremental_requests=3)], million=False) == [
        "pindrop at 100,000 rows: incremental sync made 3 requests, the minimum is 2"]
    assert bench.check_targets([_row(scale=10_000, incremental_requests=1)], million=False) != []  # at any size


def test_incremental_share_is_under_5_percent_at_100000_rows_only():
    assert bench.check_targets([_row(incremental_share=0.049)], million=False) == []
    assert bench.check_targets([_row(incremental_share=0.05)], million=False) == [
        "pindrop at 100,000 rows: incremental sync took 5.0% of the initial sync's time (target < 5%)"]
    assert bench.check_targets([_row(scale=10_000, incremental_share=0.22)], million=False) == []


def test_memory_target_holds_at_exactly_1_5_and_the_buffer_bound_is_1_5_too():
    at_bound = [_row(connector_mb=80.0, buffer_max=10_000),
                _row(scale=1_000_000, connector_mb=120.0, buffer_max=15_000)]
    assert bench.check_targets(at_bound, million=True) == []
    buffer_doubles = [_row(buffer_max=10_000), _row(scale=1_000_000, buffer_max=20_000)]
    assert [m for m in bench.check_targets(buffer_doubles, million=True) if "does not bound it" in m]


def test_the_requests_kept_are_the_most_of_any_run():
    runs = [{"seconds": 1.0, "peak_rss_kb": 1}, {"seconds": 2.0, "peak_rss_kb": 1}]
    assert bench.fastest_runs(runs, runs, runs, [31, 33])[3] == 33


def _run_main(monkeypatch, tmp_path, capsys, result):
    monkeypatch.setattr(bench, "REPORT", tmp_path / "build" / "bench.md")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "measure", lambda name, rows, repeat: dict(result, connector=name, scale=rows))
    status = bench.main(["--rows", "100000", "--connectors", "pindrop", "--repeat", "1"])
    return status, capsys.readouterr().out, (tmp_path / "build" / "bench.md").read_text()


def test_main_exits_1_and_names_the_miss_and_0_when_every_target_holds(monkeypatch, tmp_path, capsys):
    status, out, report = _run_main(monkeypatch, tmp_path, capsys, _row(ratio=1.4))
    assert status == 1
    assert "MISSED: pindrop at 100,000 rows: time 10.00 s is 1.40 x the ceiling" in out
    assert "- MISSED: pindrop at 100,000 rows: time 10.00 s is 1.40 x the ceiling" in report
    status, out, report = _run_main(monkeypatch, tmp_path, capsys, _row(incremental_share=0.012))
    assert status == 0 and "every target holds" in out and "Every target holds." in report
    header = "| " + " | ".join(bench.HEADER) + " |"
    assert header in report
    line = next(text for text in report.splitlines() if text.startswith("| pindrop"))
    cells = dict(zip(bench.HEADER, (c.strip() for c in line.strip("|").split("|")), strict=True))
    assert (cells["ratio"], cells["incr %"], cells["time s"], cells["rows/s"], cells["requests"]) == (
        "1.00", "1.2", "10.00", "10,000", "3")


def test_the_readme_table_has_the_columns_bench_prints():
    assert "| " + " | ".join(bench.HEADER) + " |" in (ROOT / "README.md").read_text()


class _FakeServer:
    def __init__(self, name, rows, log_path):
        self.info = {"configuration": {}, "base_url": "http://127.0.0.1:1",
                     "expected": {"initial": 7, "incremental": 2, "how": "h"}}
        self.dumps = iter([7, 9, 2])  # two sync runs (the second made more requests), then the incremental

    def command(self, text):
        return str(next(self.dumps)) if text.startswith("dump") else "ok"

    def close(self):
        pass


def test_measure_divides_the_fastest_sync_by_the_fastest_ingest_plus_transport(monkeypatch, tmp_path):
    times = {"ingest": iter([30.0, 24.0]), "sync": iter([29.0, 35.0]), "transport": iter([1.6, 1.2])}

    def run_child(mode, spec, log_path):
        if mode == "ingest":
            return {"ok": True, "seconds": next(times["ingest"]), "rows": 100_000, "checkpoints": 10,
                    "rename_s": 0.5, "runner_growth_kb": 1024}
        if mode == "sync" and spec.get("incremental"):
            return {"ok": True, "seconds": 0.58, "peak_rss_kb": 1, "start_rss_kb": 1}
        if mode == "sync":
            return {"ok": True, "seconds": next(times["sync"]), "peak_rss_kb": 2048, "start_rss_kb": 1024}
        if mode == "transport":
            return {"ok": True, "seconds": next(times["transport"])}
        return {"ok": True, "peak_rss_kb": 4096, "buffer_max": 10_000}  # stream

    monkeypatch.setattr(bench, "WORK", tmp_path)
    monkeypatch.setattr(bench, "Server", _FakeServer)
    monkeypatch.setattr(bench, "run_child", run_child)
    monkeypatch.setattr("tools.package.stage", lambda name, target=None: target)
    result = bench.measure("pindrop", 100_000, repeat=2)
    assert result["ratio"] == pytest.approx(29.0 / (24.0 + 1.2))
    assert (result["seconds"], result["ingest_s"], result["transport_s"]) == (29.0, 24.0, 1.2)
    assert result["incremental_share"] == pytest.approx(0.58 / 29.0)
    assert result["requests"] == 9 and result["incremental_requests"] == 2
    assert (result["expected"], result["incremental_expected"]) == (7, 2)
    assert result["connector_mb"] == 4.0 and result["peak_mb"] == 2.0


SIZES = {"pindrop": 1_500, "courier": 700, "customer_thermometer": 1_200, "aroflo": 1_600, "xurrent": 900}


@pytest.mark.parametrize("name", list(SIZES))
def test_the_oracle_is_what_each_connector_asks_of_the_benchs_fake(name, sleeps):
    """The bench's minimum, at a small size, equals the requests the connector makes (initial and incremental)
    against the same fake, configuration and patches: a wrong oracle fails here, not only in a 23-minute run."""
    fake = bench.make_fake(name, SIZES[name])
    with Sandbox(fake) as box:
        configuration = bench.bench_configuration(name, fake, box.url(name))
        expected = bench.expected_requests(name, fake, configuration)
        module = load_connector(name)
        bench._bench_patches(name, module)
        _, state = run_update(module, dict(configuration))
        initial = len(box.requests_to(name))
        box.requests.clear()
        run_update(module, dict(configuration), state)
        incremental = len(box.requests_to(name))
    assert (initial, incremental) == (expected["initial"], expected["incremental"]), expected["how"]


def test_the_buffer_counts_the_rows_of_the_final_flush(tmp_path, monkeypatch):
    from fivetran_connector_sdk_cli import runtime

    monkeypatch.setattr(runtime, "_sink", None)
    (tmp_path / "connector.py").write_text(textwrap.dedent("""
        from fivetran_connector_sdk import Connector
        from fivetran_connector_sdk import Operations as op

        def update(configuration, state):
            for number in range(15):
                op.upsert("item", {"id": number})
                if number == 4:
                    op.checkpoint({"through": number})

        connector = Connector(update=update, schema=lambda c: [{"table": "item", "primary_key": ["id"]}])
    """))
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = bench._stream("tiny", tmp_path, {})
    assert (result["records"], result["checkpoints"], result["buffer_max"]) == (15, 1, 10)


def test_the_transport_replay_uses_the_token_it_gets(tmp_path, sandbox):
    """Pindrop's replay: the token POST, then the report; the report's bytes are read (not a 401 answer)."""
    from sandbox.pindrop import PindropFake

    fake = PindropFake(rows_per_report={"calls": 2_000}, today=bench.PINDROP_DAY.replace(day=15))
    box = sandbox(fake)
    configuration = fake.configuration(box.url("pindrop"))
    form = f"grant_type=client_credentials&client_id={fake.client_id}&client_secret={fake.client_secret}"
    log = tmp_path / "requests.jsonl"
    log.write_text("\n".join(json.dumps(line) for line in (
        {"method": "POST", "path": "/oauth2/token", "query": "", "body": base64.b64encode(form.encode()).decode(),
         "content_type": "application/x-www-form-urlencoded"},
        {"method": "GET", "path": "/v1/nightly_reports/calls/2026-03-14", "query": "", "body": "",
         "content_type": None})) + "\n")
    result = bench._transport({"name": "pindrop", "configuration": configuration, "base_url": box.url("pindrop"),
                               "request_log": str(log)})
    report = b"".join(fake.report_body("calls", bench.PINDROP_DAY))
    assert result["requests"] == 2 and result["bytes"] > len(report)
