"""Scenario 3: a sync of at least 50,000 rows killed at a seeded random point, then resumed.

The sync runs in a child process through the SDK's local runner; the test kills it with SIGKILL once the fake
has answered a randomly chosen number of requests (seed in ``CHAOS_SEED``, printed on failure). The resumed
sync must end with every source row, and may read again at most one checkpoint interval of rows per
incremental table (the rows a crash can lose are those after the last checkpoint). Full-scan tables are read
whole on every sync by design.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sandbox import registry
from tests.e2e.profiles import PROFILES
from tests.harness import ROOT, LocalRunner

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
CONNECTORS = [name for name in PROFILES if name in registry.available()]


class CountingOps:
    """Delegates to the SDK's Operations and counts upserts per table."""

    def __init__(self, ops):
        self._ops = ops
        self.upserts: dict[str, int] = {}

    def upsert(self, table, data, **kwargs):
        self.upserts[table] = self.upserts.get(table, 0) + 1
        return self._ops.upsert(table, data, **kwargs)

    def __getattr__(self, name):
        return getattr(self._ops, name)


def kill_after_requests(child: subprocess.Popen, box, name: str, requests: int, timeout_s: float = 300) -> bool:
    """SIGKILL the child once the fake has answered ``requests`` requests; False if it finished first."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if child.poll() is not None:
            return False
        if len(box.requests_to(name)) >= requests:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            return True
        time.sleep(0.005)
    child.kill()
    raise AssertionError(f"the sync did not reach {requests} requests in {timeout_s} s")


@pytest.mark.e2e
@pytest.mark.parametrize("name", CONNECTORS)
def test_a_sync_killed_at_a_random_point_resumes_to_every_row(name, tmp_path, monkeypatch, sandbox, sleeps):
    profile = PROFILES[name]
    rng = random.Random(f"{SEED}-{name}")
    kill_at = rng.randint(profile.approx_requests // 4, profile.approx_requests * 3 // 4)
    where = f"(CHAOS_SEED={SEED}: killed after {kill_at} requests)"
    fake = registry.make_fake(name, **profile.large)
    box = sandbox(fake)
    configuration = {key: value for key, value in {**box.configuration(name), **profile.large_configuration}.items()
                     if value is not None}
    runner = LocalRunner(name, tmp_path, monkeypatch)
    (tmp_path / "configuration.json").write_text(json.dumps(configuration))
    (tmp_path / "patches.json").write_text(json.dumps(profile.child_patches))
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e.crash_child", name, str(tmp_path),
                              str(tmp_path / "configuration.json"), str(tmp_path / "patches.json")],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kill_after_requests(child, box, name, kill_at), f"the sync ended before the crash {where}"
    committed = {table: len(runner.rows(table)) for table in runner.tables()} if runner.state else {}
    counting = CountingOps(runner.module.op)
    runner.module.op = counting
    assert runner.sync(configuration), f"the resumed sync failed {where}"
    live = {table: len(runner.rows(table)) for table in runner.tables()}
    assert sum(live.values()) >= profile.large_rows, f"{live} {where}"
    for table, bound in profile.reread_bound.items():
        needed = live.get(table, 0) - committed.get(table, 0)
        reread = counting.upserts.get(table, 0) - needed
        assert reread <= bound, f"{table}: {reread} rows read again, more than {bound} {where}"
