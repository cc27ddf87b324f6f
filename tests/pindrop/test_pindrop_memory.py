"""Peak memory does not grow with report size: a 1,000,000-row report costs what a 100,000-row one does.

Each size runs in a fresh child process (``bench_pindrop_memory.py``) through the connector's own download, CSV
parsing, row building and upsert loop, against a report streamed by the sandbox fake in this process.
"""

from tests.pindrop.bench_pindrop_memory import measure


def test_a_million_row_report_streams_in_the_memory_of_a_hundred_thousand():
    small, large = measure(100_000, "calls"), measure(1_000_000, "calls")
    assert (small["rows"], large["rows"]) == (100_000, 1_000_000)
    assert large["checkpoints"] == 1_000_000 // 10_000 + 1  # flushes inside the report, then the report's own
    assert large["peak_rss_kb"] <= 1.5 * small["peak_rss_kb"]
    assert large["peak_rss_kb"] - small["peak_rss_kb"] < 20 * 1024, (small, large)


def test_derived_keys_keep_memory_flat_too():
    """``audit`` has no id column: every row's key needs an occurrence count, kept on disk."""
    small, large = measure(20_000, "audit"), measure(200_000, "audit")
    assert large["rows"] == 200_000
    assert large["peak_rss_kb"] - small["peak_rss_kb"] < 6 * 1024, (small, large)  # a dict of counts: ~13 MB
