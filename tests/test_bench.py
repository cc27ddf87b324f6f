"""tools/bench.py: the minimum-request arithmetic, the pacing floors and the faster Courier fake it serves."""

from datetime import date

from sandbox.courier import CourierFake
from sandbox.server import Request
from tools import bench


def test_pacing_floor_under_sliding_windows():
    assert bench.floor_s(3, [(1.0, 3)]) == 0.0
    assert bench.floor_s(4, [(1.0, 3)]) == 1.0
    assert bench.floor_s(7, [(1.0, 3)]) == 2.0
    # 120 a minute caps the sustained rate at 2 a second, whatever the per-second limit allows
    assert 60.0 <= bench.floor_s(121, bench.API_LIMITS["aroflo"]["api"]) <= 61.0
    assert bench.floor_s(21, bench.API_LIMITS["xurrent"]["api"]) == 2.0


def test_page_counts_for_the_two_stop_rules():
    assert bench.pages_until_short(0, 500) == 1 and bench.pages_until_short(500, 500) == 2
    assert bench.pages_until_short(499, 500) == 1
    assert bench.pages_by_cursor(0, 10) == 1 and bench.pages_by_cursor(10, 10) == 1
    assert bench.pages_by_cursor(11, 10) == 2


def test_fewest_windows_keep_each_answer_under_the_limit_and_reread_a_multi_day_windows_last_day():
    days = [f"2024-01-{day:02d}" for day in range(1, 11) for _ in range(4)]  # 4 rows a day for 10 days
    first, last = date(2024, 1, 1), date(2024, 1, 20)
    assert bench._fewest_windows([], first, last, 5) == 1
    assert bench._fewest_windows(days, first, last, 100) == 1
    # under 10 rows per window: 2 days each, the next one starting on the last day of the one before
    # (1-2, 2-3, ..., 8-9), then 9 to the end (8 rows: no rows after the 10th)
    assert bench._fewest_windows(days, first, last, 10) == 9


def test_the_faster_courier_fake_answers_like_the_fake():
    plain, fast = CourierFake(counts={"messages": 95}), bench._fast_courier(95)
    after = str(min(m["enqueued"] for m in plain.tables["messages"]) + 40 * 1_800_000)
    headers = {"authorization": f"Bearer {plain.api_key}"}
    for cursor in (None, "messages:10:a+b/c=", "messages:50:a+b/c="):
        query = {"enqueued_after": [after], **({"cursor": [cursor]} if cursor else {})}
        request = Request("GET", "courier", "/messages", query, "", headers)
        assert fast.handle(request).body == plain.handle(request).body
    assert len(fast.tables["messages"]) == 95  # restored after each answer


def _result(scale: int, connector_mb: float, buffer_max: int, debug_mb: float) -> dict:
    """A measurement that meets every target but the memory ones under test."""
    return {"connector": "pindrop", "scale": scale, "seconds": 1.0, "ingest_s": 1.0, "transport_s": 0.1,
            "ratio": 0.9, "requests": 3, "expected": 3, "how": "", "incremental_requests": 2,
            "incremental_expected": 2, "incremental_share": 0.01, "connector_mb": connector_mb,
            "buffer_max": buffer_max, "peak_mb": debug_mb}


def test_memory_target_is_the_connector_process_and_the_rows_the_runner_buffers():
    # the in-process peak grows with the local runner (1.8 x): not the connector's, so not a miss on its own
    flat = [_result(100_000, 83, 10_000, 174), _result(1_000_000, 84, 10_000, 310)]
    assert bench.check_targets(flat, million=True) == []
    grows = [_result(100_000, 83, 10_000, 174), _result(1_000_000, 130, 10_000, 310)]
    assert [m for m in bench.check_targets(grows, million=True) if "peak memory" in m] == [
        "pindrop: the connector process's peak memory at 1,000,000 rows is 1.57 x the peak at 100,000 (target <= 1.5)"]
    unbounded = [_result(100_000, 83, 10_000, 174), _result(1_000_000, 84, 100_000, 310)]
    assert any("does not bound it" in m for m in bench.check_targets(unbounded, million=True))
    assert bench.check_targets(grows, million=False) == []  # without --million there is nothing to compare


def test_wire_sink_takes_the_sdks_encoded_records_and_counts_the_rows_between_checkpoints(monkeypatch):
    from fivetran_connector_sdk import Connector, Logging
    from fivetran_connector_sdk import Operations as op
    from fivetran_connector_sdk_cli import runtime
    from fivetran_connector_sdk_cli.core_adapter import ConnectorSource

    def update(configuration, state):
        for number in range(25):
            op.upsert("item", {"id": number, "name": f"item {number}"})
            if number % 10 == 9:
                op.checkpoint({"through": number})

    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.WARNING)
    monkeypatch.setattr(runtime, "_sink", None)  # the sink this test installs is gone afterwards
    source = ConnectorSource(Connector(update=update, schema=lambda c: [{"table": "item", "primary_key": ["id"]}]))
    sink = bench._WireSink()
    source.schema({})
    source.update({}, {}, sink)
    assert (sink.records, sink.checkpoints, sink.buffered_max, sink.buffered) == (25, 2, 10, 5)
    assert sink.wire_bytes > 25 * len("idname")  # the column names and their encoded values


def test_repeated_runs_keep_the_fastest_of_each_child_and_the_largest_memory_and_requests():
    ingests = [{"seconds": 30.0, "id": "i0"}, {"seconds": 24.0, "id": "i1"}]
    syncs = [{"seconds": 29.0, "peak_rss_kb": 200, "id": "s0"}, {"seconds": 35.0, "peak_rss_kb": 210, "id": "s1"}]
    transports = [{"seconds": 1.6, "id": "t0"}, {"seconds": 1.2, "id": "t1"}]
    ingest, sync, transport, requests = bench.fastest_runs(ingests, syncs, transports, [31, 31])
    assert (ingest["id"], sync["id"], transport["id"]) == ("i1", "s0", "t1")
    assert sync["peak_rss_kb"] == 210 and requests == 31
