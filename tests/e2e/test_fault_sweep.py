"""``make chaos``: a fault at every request of a sync, one run each, in process (deselected from ``make test``).

For each connector (Xurrent in both auth modes) and each of two syncs (a first sync, and an incremental one after
the source changed), a clean run lists the requests in order. Then, for a request k of that list and a fault kind,
a fresh sync from the same state meets the fault at request k, and:
- it fails, naming the HTTP status when there is one, unless the fault is transient (it must then succeed with
  the clean rows) or a README makes it benign (a Pindrop report that is not ready yet);
- no canary secret shows in the error, its cause, anything printed, or any checkpoint;
- resumed from its last checkpoint (and from every checkpoint that differs from the clean run's) with the fault
  gone, the rows replayed by primary key equal the clean sync's, key by key and value by value, whether or not
  the destination kept the rows sent after that checkpoint.
Small sources, small pages and a low checkpoint cadence put several checkpoints inside each table. The full
sweep is about 2,300 runs (about 10 minutes on one worker); ``make chaos`` runs a sample of ``SWEEP_CASES``
(k, kind) pairs per connector and sync, drawn with ``CHAOS_SEED``; ``SWEEP_CASES=all`` runs every pair.
"""

import copy
import json
import os
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from sandbox import registry
from sandbox.server import Sandbox
from tests.e2e.profiles import PROFILES
from tests.harness import Recorder, canary_secrets, load_connector, run_update

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
CASES = os.environ.get("SWEEP_CASES", "40")

# kind -> (sandbox fault kind, times it fires (None: every request from k on), options)
KINDS = {
    "400": ("status", None, {"status": 400}),
    "401": ("status", None, {"status": 401}),
    "403": ("status", None, {"status": 403}),
    "404": ("status", None, {"status": 404}),
    "503": ("status", None, {"status": 503}),
    "malformed": ("malformed", None, {}),
    "envelope": ("envelope", None, {}),
    "truncate": ("truncate", None, {}),
    "reset": ("reset", None, {}),
    "truncate-once": ("truncate", 1, {}),
    "reset-once": ("reset", 1, {}),
    "503-until-last-attempt": ("status", "last", {"status": 503}),
    "400-once": ("status", 1, {"status": 400}),
    "404-once": ("status", 1, {"status": 404}),
    "401-once": ("status", 1, {"status": 401}),
}
TRANSIENT = ("truncate-once", "reset-once", "503-until-last-attempt")
ONCE = ("400-once", "404-once", "401-once")  # a single refusal: may fail, or be skipped where the README says so
ROWS = {"organizations": 120, "products": 90, "projects": 110}


@dataclass(frozen=True)
class Variant:
    source: str
    fake: dict
    patches: dict = field(default_factory=dict)  # module constants: a low checkpoint cadence, small windows
    second_sync: dict = field(default_factory=dict)  # configuration of the incremental sync (smaller pages)
    failed_attempts: int = 4  # attempts that may fail before the last one allowed (5 attempts; 4 for 3 retries)

    def configuration(self, fake, url: str) -> dict:
        configuration = fake.configuration(url)
        if self.source == "pindrop":
            configuration["start_date"] = str(fake.current_day() - timedelta(days=3))
        if self.source in ("aroflo", "xurrent"):
            configuration["max_records_per_page"] = "50"
        return configuration

    def benign(self, kind: str, path: str, today: str) -> bool:
        """Faults a README makes harmless: a Pindrop report that answers 404 or in another shape inside the grace
        window is "not ready yet" (every day here is), and a cut-off body after today's 404 is still a 404."""
        if self.source != "pindrop" or not path.startswith("/v1/nightly_reports/"):
            return False
        return kind in ("404", "envelope") or (kind == "truncate" and path.endswith(today))


VARIANTS = {
    "courier": Variant("courier", {"counts": dict.fromkeys(
        ("brands", "audiences", "audit-events", "lists", "messages", "notifications", "tenants"), 25)},
        patches={"__CHECKPOINT_EVERY_ROWS": 12}),
    "pindrop": Variant("pindrop", {"rows_per_report": 40}, patches={"__FLUSH_EVERY_ROWS": 15}),
    "customer_thermometer": Variant(
        "customer_thermometer", {"responses": 60, "busy_day_rows": 0, "thermometers": 4, "recipient_lists": 3},
        patches={"__WINDOW_ROW_LIMIT": 25, "__CHECKPOINT_EVERY_ROWS": 20}),
    "aroflo": Variant("aroflo", {"counts": {"users": 120, "suppliers": 110, "payments": 130}, "per_second": None,
                                 "per_minute": None, "per_day": None, "skew_window_s": 10**9},
                      second_sync={"max_records_per_page": "2"}, failed_attempts=3),
    "xurrent": Variant("xurrent", {"counts": ROWS}, patches={"__CHECKPOINT_EVERY_ROWS": 60},
                       second_sync={"max_records_per_page": "2"}, failed_attempts=3),
    "xurrent-oauth": Variant("xurrent", {"counts": ROWS, "auth_mode": "oauth"},
                             patches={"__CHECKPOINT_EVERY_ROWS": 60}, second_sync={"max_records_per_page": "2"},
                             failed_attempts=3),
}
VOLATILE = {"metric": ("captured_at",)}  # the sync's own clock


class World:
    """A fresh fake with canary secrets on its own sandbox, the connector with the variant's patches."""

    def __init__(self, variant: Variant, monkeypatch, frozen_clock: int):
        self.variant, self.name = variant, variant.source
        self.module = load_connector(self.name)
        for constant, value in variant.patches.items():
            assert hasattr(self.module, constant), constant
            monkeypatch.setattr(self.module, constant, value)
        options = dict(variant.fake)
        if self.name == "aroflo":  # edits dated alike in every run, so every run's reference is the same
            options["wall_clock"] = lambda: frozen_clock
        self.secrets = canary_secrets(self.module, self.name, **options)
        self.fake = registry.make_fake(self.name, **options, **self.secrets)
        self.box = Sandbox(self.fake).start()
        self.configuration = variant.configuration(self.fake, self.box.url(self.name))
        self.keys = {t["table"]: t["primary_key"] for t in self.module.schema(self.configuration)
                     if t.get("primary_key")}

    def sync(self, state: dict | None = None) -> tuple[Recorder, Exception | None]:
        recorder = Recorder()
        try:
            run_update(self.module, self.configuration, state, recorder)
        except Exception as error:  # noqa: BLE001  the sweep inspects every failure
            return recorder, error
        return recorder, None

    def prepare(self, sync_number: int) -> tuple[list, dict]:
        """Before the sync under test: nothing, or a clean first sync and then a changed source."""
        if sync_number == 1:
            return [], {}
        first, error = self.sync()
        assert error is None, error
        state = copy.deepcopy(first.checkpoints[-1])
        PROFILES[self.name].mutate(self.fake, state)
        self.configuration.update(self.variant.second_sync)
        return first.operations, state

    def close(self) -> None:
        if self.box is not None:
            self.box.stop()
            self.box = None

    def requests(self, since: int = 0) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.box.requests_to(self.name)[since:]]


def replay(operations: list, keys: dict) -> dict:
    recorder = Recorder()
    recorder.operations.extend(operations)
    return {table: {pk: {c: v for c, v in row.items() if c not in VOLATILE.get(table, ())}
                    for pk, row in recorder.table(table, key).items()}
            for table, key in keys.items()}


def differences(expected: dict, got: dict) -> str:
    out = []
    for table, rows in expected.items():
        have = got.get(table, {})
        missing = [pk for pk in rows if pk not in have]
        extra = [pk for pk in have if pk not in rows]
        changed = [pk for pk in rows if pk in have and have[pk] != rows[pk]]
        if missing or extra or changed:
            out.append(f"{table}: {len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}, "
                       f"{len(changed)} changed {changed[:2]}")
    return "; ".join(out)


@pytest.fixture
def world(monkeypatch, sleeps):
    frozen = int(time.time())
    opened: list[World] = []

    def make(variant: Variant) -> World:
        opened.append(World(variant, monkeypatch, frozen))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def clean_run(world, variant: Variant, sync_number: int) -> dict:
    w = world(variant)
    before, state = w.prepare(sync_number)
    mark = len(w.box.requests_to(w.name))
    recorder, error = w.sync(state)
    assert error is None, error
    requests = w.requests(mark)
    w.close()
    return {"requests": requests, "checkpoints": recorder.checkpoints,
            "reference": replay(before + recorder.operations, w.keys)}


def chosen_cases(name: str, sync_number: int, requests: int) -> list[tuple[int, str]]:
    every = [(k, kind) for k in range(requests) for kind in KINDS]
    if CASES == "all":
        return every
    rng = random.Random(f"{SEED}-{name}-{sync_number}")
    return sorted(rng.sample(every, min(int(CASES), len(every))))


def fault_at(world, variant: Variant, sync_number: int, clean: dict, k: int, kind: str, capfd) -> list[str]:
    """One run with the fault at request k; returns what went wrong (nothing, when all holds)."""
    w = world(variant)
    before, state = w.prepare(sync_number)
    method, path = clean["requests"][k]
    nth = sum(1 for _, p in clean["requests"][:k + 1] if p.startswith(path))
    fault_kind, times, options = KINDS[kind]
    times = variant.failed_attempts if times == "last" else times
    mark = len(w.box.requests_to(w.name))
    fault = w.box.faults.add(w.name, path, fault_kind, nth=nth, times=times, **options)
    recorder, error = w.sync(state)
    seen = w.requests(mark)
    problems = []
    if fault.fired == 0 or seen[k] != (method, path):
        return [f"the fault did not meet request {k} {path} (requests {seen[:k + 2]})"]
    message = f"{type(error).__name__}: {error}" if error else ""
    if error is None and kind not in TRANSIENT + ONCE and not variant.benign(kind, path, str(_today(w))):
        problems.append(f"the sync succeeded despite {kind} from request {k} {path}")
    if error is not None and kind in TRANSIENT:
        problems.append(f"a transient {kind} failed the sync: {message[:300]}")
    if error is not None and fault_kind == "status" and str(options["status"]) not in message:
        problems.append(f"the message does not name HTTP {options['status']}: {message[:300]}")
    printed = capfd.readouterr()
    seen_text = message + repr(error.__cause__ if error else "") + printed.out + printed.err
    seen_text += json.dumps(recorder.checkpoints)
    problems += [f"the {key} canary leaked" for key, canary in w.secrets.items() if canary in seen_text]
    if error is None and kind in TRANSIENT:
        found = differences(clean["reference"], replay(before + recorder.operations, w.keys))
        problems += [f"the sync recovered but its rows differ: {found}"] if found else []
    w.box.faults.clear()
    problems += resumed_problems(w, before, state, recorder, clean, kind)
    w.close()
    return problems


def _today(w: World):
    return w.fake.current_day() if w.name == "pindrop" else None


def resumed_problems(w: World, before: list, state: dict, failed: Recorder, clean: dict, kind: str) -> list[str]:
    """Resume from the last checkpoint, and from every checkpoint unlike the clean run's: the rows must converge."""
    positions = [i for i, (op, _, _) in enumerate(failed.operations) if op == "checkpoint"]
    last = len(failed.checkpoints) - 1
    points = [last] + [i for i, checkpoint in enumerate(failed.checkpoints)
                       if i != last and (i >= len(clean["checkpoints"]) or checkpoint != clean["checkpoints"][i])]
    problems = []
    for i in points:
        start = copy.deepcopy(failed.checkpoints[i] if i >= 0 else state)
        committed = failed.operations[:positions[i] + 1] if i >= 0 else []
        resumed, error = w.sync(start)
        if error is not None:
            problems.append(f"the resume from checkpoint {i} failed: {error}")
            continue
        kept = [("committed", committed)]
        if i == last and kind != "malformed":  # a broken body's rows before the break are not the source's
            kept.append(("all", failed.operations))
        for label, operations in kept:
            found = differences(clean["reference"], replay(before + operations + resumed.operations, w.keys))
            if found:
                problems.append(f"resumed from checkpoint {i} ({label} operations of the failed sync): {found}")
    return problems


@pytest.mark.chaos
@pytest.mark.parametrize("sync_number", [1, 2])
@pytest.mark.parametrize("name", [n for n in VARIANTS if VARIANTS[n].source in registry.available()])
def test_a_fault_at_any_request_fails_clearly_and_the_resume_converges(name, sync_number, world, capfd):
    variant = VARIANTS[name]
    clean = clean_run(world, variant, sync_number)
    failures = {}
    for k, kind in chosen_cases(name, sync_number, len(clean["requests"])):
        problems = fault_at(world, variant, sync_number, clean, k, kind, capfd)
        if problems:
            failures[f"k={k} {clean['requests'][k][1]} {kind}"] = problems
    assert not failures, f"CHAOS_SEED={SEED} SWEEP_CASES={CASES}: " + json.dumps(failures, indent=1)[:4000]
