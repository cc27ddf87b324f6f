"""Proven under faults: every connector through the SDK's local runner against its fake over real HTTP.

Scenarios (issue 10), each for every connector:
1. transient faults on every route: the warehouse equals a clean sync's, row by row;
2. a persistent failure in the middle of a table: a clear failure, then the next healthy sync converges;
3. a crash (the process killed at a seeded random point) in a sync of at least 50,000 rows: the resumed sync
   converges, re-reading at most one checkpoint interval per incremental table (test_crash.py);
4. a token that expires mid-sync (client-credentials connectors): renewed once, the sync succeeds;
5. a malformed payload, and a well-formed answer without its envelope key (or XML root): a clear failure,
   nothing advanced, then convergence;
6. canary secrets in every secret field: never in stdout, stderr or any file a run writes, in any scenario;
7. the source changes between syncs: the next sync converges with a fresh sync of the changed source.

The oracle is a clean sync of an identical fake into its own warehouse: live rows compared column by column.
"""

import pytest

from sandbox import registry
from tests.e2e.conftest import FAULT_IDS, FAULT_KINDS
from tests.e2e.profiles import PROFILES

CONNECTORS = [name for name in PROFILES if name in registry.available()]


@pytest.fixture(params=CONNECTORS)
def profile(request):
    return PROFILES[request.param]


@pytest.mark.parametrize("kind, options", FAULT_KINDS, ids=FAULT_IDS)
def test_transient_faults_on_every_route_leave_the_warehouse_equal_to_a_clean_sync(profile, e2e, kind, options):
    box, configuration = e2e.start(profile)
    injected = [box.faults.add(profile.name, route, kind, nth=1, **options) for route in profile.routes]
    runner = e2e.runner(profile)
    assert runner.sync(configuration), e2e.output()
    assert all(fault.fired == 1 for fault in injected), "a route was never asked for"
    assert runner.snapshot(profile.volatile) == e2e.reference(profile)


def test_a_persistent_failure_mid_table_fails_clearly_and_the_next_sync_converges(profile, e2e):
    box, configuration = e2e.start(profile)
    route, nth = profile.middle
    box.faults.add(profile.name, route, "status", nth=nth, times=None, status=503)
    runner = e2e.runner(profile)
    assert not runner.sync(configuration)
    assert "HTTP 503" in e2e.output()
    box.faults.clear()
    assert runner.sync(configuration), e2e.output()
    assert runner.snapshot(profile.volatile) == e2e.reference(profile)


def test_a_malformed_payload_fails_clearly_advances_nothing_and_the_next_sync_converges(profile, e2e):
    box, configuration = e2e.start(profile)
    route, nth = profile.malformed
    box.faults.add(profile.name, route, "malformed", nth=nth)
    runner = e2e.runner(profile)
    assert not runner.sync(configuration)
    output = e2e.output()
    assert any(word in output for word in ("not JSON", "XML", "CSV", "malformed", "not the expected")), output[-2000:]
    assert runner.sync(configuration), e2e.output()
    assert runner.snapshot(profile.volatile) == e2e.reference(profile)


def test_an_answer_without_its_envelope_key_fails_clearly_advances_nothing_and_the_next_sync_converges(profile, e2e):
    box, configuration = e2e.start(profile)
    route, nth = profile.envelope or profile.malformed
    fault = box.faults.add(profile.name, route, "envelope", nth=nth)
    runner = e2e.runner(profile)
    assert not runner.sync(configuration)
    output = e2e.output()
    assert fault.fired == 1
    assert any(word in output for word in ("lacks", "expected", "no access_token")), output[-2000:]
    assert runner.sync(configuration), e2e.output()
    assert runner.snapshot(profile.volatile) == e2e.reference(profile)


def test_aroflo_body_status_errors_fail_clearly_and_the_next_sync_converges(e2e):
    if "aroflo" not in CONNECTORS:
        pytest.fail("the AroFlo connector is missing")
    profile = PROFILES["aroflo"]
    box, configuration = e2e.start(profile)
    box.fakes["aroflo"].control_trigger("4", nth=3)  # a permission failure reported in the body of an HTTP 200
    runner = e2e.runner(profile)
    assert not runner.sync(configuration)
    assert "4" in e2e.output() and "status" in e2e.output()
    assert runner.sync(configuration), e2e.output()
    assert runner.snapshot(profile.volatile) == e2e.reference(profile)


@pytest.mark.parametrize("name", [n for n in CONNECTORS if PROFILES[n].token_route])
def test_a_token_that_expires_mid_sync_is_renewed_once(name, e2e):
    profile = PROFILES[name]
    box, configuration = e2e.start(profile, **profile.token_fake)
    box.faults.add(name, profile.token_route, "expired_token", nth=2)
    runner = e2e.runner(profile)
    assert runner.sync(configuration), e2e.output()
    token_requests = [r for r in box.requests_to(name) if "token" in r.path]
    assert len(token_requests) == 2  # the first token, and one renewal after the 401
    assert runner.snapshot(profile.volatile) == e2e.reference(profile, **profile.token_fake)


def test_the_next_sync_converges_after_the_source_changes(profile, e2e):
    box, configuration = e2e.start(profile)
    runner = e2e.runner(profile)
    assert runner.sync(configuration), e2e.output()
    fake = box.fakes[profile.name]
    profile.mutate(fake, runner.state)
    assert runner.sync(configuration), e2e.output()
    fresh = e2e.runner(profile, project_name=f"{profile.name}-fresh")
    assert fresh.sync(configuration, state={}), e2e.output()
    assert runner.snapshot(profile.volatile) == fresh.snapshot(profile.volatile)
    assert runner.snapshot(profile.volatile) != e2e.reference(profile), "the source change reached nothing"
