"""Peak memory of the Pindrop connector's own download-and-parse path, for one report of N rows.

    .venv/bin/python -m tests.pindrop.bench_pindrop_memory [--rows 100000 1000000] [--report-type calls]

For each row count, a sandbox fake serves one report of that many rows and a fresh child process runs the
connector's ``update()`` over it (HTTP streaming, CSV parsing, row building, key derivation, the upsert loop and its
flush checkpoints; ``op`` only counts, so the SDK runner's own buffers are not part of the figure). The child
reports its peak resident memory (``ru_maxrss``). Exits 1 when the largest report's peak exceeds
``--max-ratio`` (default 1.5) times the smallest one's, as issue 11 requires.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 14)  # the report day; the fake's "today" is the day after, which is not generated yet


class CountingOps:
    """Stands in for the SDK's Operations: counts, keeps nothing."""

    def __init__(self):
        self.upserts = 0
        self.checkpoints = 0

    def upsert(self, table, data, **_):
        self.upserts += 1

    def checkpoint(self, state):
        json.dumps(state)
        self.checkpoints += 1


def run_child(base_url: str, report_type: str) -> dict:
    """Sync one report from the fake at ``base_url``; what this process used."""
    sys.path.insert(0, str(ROOT))
    from fivetran_connector_sdk import Logging

    from tests.harness import load_connector

    Logging.LOG_LEVEL = Logging.Level.WARNING
    module = load_connector("pindrop")
    module.today_utc = lambda: DAY + timedelta(days=1)
    module.op = ops = CountingOps()
    configuration = {"client_id": "sandbox-pindrop-client", "client_secret": "sandbox-pindrop-secret",
                     "token_url": f"{base_url}/oauth2/token", "base_url": base_url, "start_date": DAY.isoformat(),
                     "report_types": report_type}
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    state = {}
    module.update(configuration, state)
    return {"rows": ops.upserts, "checkpoints": ops.checkpoints, "seconds": round(time.perf_counter() - started, 2),
            "rss_before_kb": before_kb, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "state": state}


def measure(rows: int, report_type: str) -> dict:
    """Serve one report of ``rows`` rows from this process and sync it in a child process."""
    sys.path.insert(0, str(ROOT))
    from sandbox.pindrop import PindropFake
    from sandbox.server import Sandbox

    fake = PindropFake(rows_per_report=rows, today=DAY + timedelta(days=1))
    with Sandbox(fake) as box:
        child = subprocess.run([sys.executable, "-m", "tests.pindrop.bench_pindrop_memory", "--child",
                                box.url("pindrop"), "--report-type", report_type],
                               cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"child failed ({child.returncode}): {child.stdout[-2000:]} {child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--report-type", default="calls")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--child", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.report_type)))
        return 0
    results = [measure(rows, args.report_type) for rows in sorted(args.rows)]
    print(f"{'report':<10} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12}")
    for result in results:
        rate = result["rows"] / result["seconds"] if result["seconds"] else 0
        print(f"{args.report_type:<10} {result['rows']:>10} {result['seconds']:>8} {rate:>9.0f} "
              f"{result['peak_rss_kb'] / 1024:>12.1f}")
    ratio = results[-1]["peak_rss_kb"] / results[0]["peak_rss_kb"]
    print(f"peak memory ratio {results[-1]['rows']} / {results[0]['rows']} rows: {ratio:.2f} "
          f"(limit {args.max_ratio})")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
