"""``make bench``: every connector against its sandbox fake, measured against the SDK runner's own ceiling.

    python -m tools.bench [--rows 10000 100000] [--million] [--connectors pindrop courier ...] [--repeat 2]
    python -m tools.bench --memory-only --rows 100000 --million   # child 5 alone: the memory target, quickly

For each connector and row count, a fake is served from a separate process on 127.0.0.1 (so the server's CPU is
not the connector's), with its rate limits off, and five child processes run one after the other:

1. ingest ceiling: the connector's rows are captured once (its ``update()`` with a recording ``op``, not timed),
   then a minimal connector that makes no HTTP request replays exactly those upserts, truncates and checkpoints
   (same rows, same columns, same cadence, the connector's own ``schema()``) through the SDK's local runner;
2. the measured sync: the staged connector (folder + ``shared/``) through the SDK's local runner
   (``connector.debug``, in-process, with the patches tests/harness.py ``LocalRunner`` applies: no version checks,
   no pipreqs, a private HOME); wall time of ``debug()``, peak resident memory of the child (``ru_maxrss``), and the
   requests the fake logged;
3. transport ceiling: the same requests replayed by a bare loop on one ``requests.Session``, bodies read in full
   and not parsed;
4. an incremental sync from the state the measured sync left, with no change at the source;
5. the connector's process as deployed: on Fivetran the runner is not in the connector's process (the SDK's
   production package streams operations out over gRPC), so this child runs the staged connector and the SDK's
   operations layer into a sink that takes each record's encoded row and lets it go; its peak resident memory
   is the connector's own, and the sink counts the rows the runner would buffer between two checkpoints.

Children 1 to 3 run ``--repeat`` times (2 by default), interleaved, each from a fresh folder, and each keeps its
fastest run: the same sync through the local runner varies by 15% or more from run to run on a shared machine,
and the fastest run of each is the least disturbed one (the ratio compares fastest with fastest). Requests and
peak memory are the largest of the runs.

Targets (the exit status is 1 when one is missed, and the output says which):
- time <= 1.25 x (ingest ceiling + transport ceiling) at 100,000 rows;
- peak memory at 1,000,000 rows <= 1.5 x peak at 100,000 rows (with ``--million``), for the connector's process
  (child 5), and the rows the runner buffers between checkpoints within the same bound; the in-process peak
  with the SDK's local runner is printed beside it (``debug MB``), with that runner's own growth (child 1);
- requests == the minimum the API allows, computed from the fake's data (largest page size, no page twice, one
  token per token lifetime), for the initial and the incremental sync;
- incremental sync time < 5% of the initial sync's, at 100,000 rows and more (below that the runner's fixed
  start-up cost, about 0.1 s, dominates; the percentage is still printed).

Pacing: AroFlo (3 requests/s, 120/min) and Xurrent (about 20 requests per 2 s, 3,600 an hour) are measured with
the connector's client-side limiter patched out and the fake's limits off, so the time is the connector's own
efficiency; the floor those limits impose on the same requests is printed separately.
The table is printed and written to ``build/bench.md``, followed by notes: where the time goes (the runner's share,
and how much of it is the runner renaming column names), the runner's own memory growth (measured in the ingest
child: its peak above the rows held for the replay) and the pacing floors.
"""

import argparse
import base64
import bisect
import copy
import gc
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "bench"
REPORT = ROOT / "build" / "bench.md"
CONNECTORS = ("pindrop", "courier", "customer_thermometer", "aroflo", "xurrent")
DEFAULT_ROWS = (10_000, 100_000)
MILLION = 1_000_000
DEFAULT_REPEAT = 2  # runs of each timed child; the fastest counts (the same sync varies by 15% from run to run)
TIME_RATIO_MAX = 1.25
MEMORY_RATIO_MAX = 1.5
INCREMENTAL_SHARE_MAX = 0.05
TARGET_ROWS = 100_000  # the time ratio and the incremental share are targets at this size and above
PINDROP_DAY = date(2026, 3, 14)  # the one report's day; the fake's "today" is the day after (not generated yet)
CT_WINDOW_LIMIT = 10_000  # customer_thermometer/connector.py __WINDOW_ROW_LIMIT (the largest "page")
CT_COMMENT_SHARE = 0.4  # the fake gives 2 responses in 5 a comment
AROFLO_PAGE = 500
XURRENT_PAGE = 100
XURRENT_WALK_CAP = 100_000
COURIER_PAGES = {"brands": 20, "audiences": 20, "audit-events": 20, "lists": 20, "notifications": 20,
                 "tenants": 100}  # tenants: limit=100, the documented maximum; the others have no size parameter
COURIER_MESSAGE_PAGE = 10  # Courier serves 10 messages per call, with no size parameter
API_LIMITS = {  # (window seconds, requests) the API documents, and what the connector's own limiter uses
    "aroflo": {"api": [(1.0, 3), (60.0, 120)], "connector": [(1.5, 3), (62.0, 120)],
               "text": "3 requests/s and 120/min (client-side limiter: 3 per 1.5 s, 120 per 62 s)"},
    "xurrent": {"api": [(2.0, 20), (3600.0, 3600)], "connector": [(2.2, 20), (3600.0, 3600)],
                "text": "about 20 requests per 2 s and 3,600 an hour (client-side limiter: 20 per 2.2 s; "
                        "quota pacing from x-ratelimit-remaining)"},
}


# --- scenarios: the fake, the configuration and the minimum requests, per connector ---------------------------

def split_three(rows: int) -> list[int]:
    third = rows // 3
    return [third, third, rows - 2 * third]


def make_fake(name: str, rows: int):
    """The fake for ``rows`` rows with every server-side limit off (pacing is measured separately)."""
    from sandbox import registry

    if name == "pindrop":
        return registry.make_fake(name, rows_per_report={"calls": rows}, today=PINDROP_DAY + timedelta(days=1))
    if name == "courier":
        return _fast_courier(rows)
    if name == "customer_thermometer":
        # 2 responses in 5 carry a comment, so responses + comments come to about ``rows``
        return registry.make_fake(name, responses=max(1, round(rows / (1 + CT_COMMENT_SHARE)) - 260))
    if name == "aroflo":
        users, suppliers, payments = split_three(rows)
        return registry.make_fake(name, counts={"users": users, "suppliers": suppliers, "payments": payments},
                                  per_second=None, per_minute=None, per_day=None)
    if name == "xurrent":
        organizations, products, projects = split_three(rows)
        return registry.make_fake(name, counts={"organizations": organizations, "products": products,
                                                "projects": projects}, quota=10**9, burst_limit=None,
                                  auth_mode="oauth")
    raise SystemExit(f"no benchmark scenario for {name!r}")


def _fast_courier(rows: int):
    """The Courier fake, with its ``enqueued_after`` filter computed once per value instead of once per page
    (the same answers; the plain fake scans every message on every request, which would make a 100,000-message
    walk measure the fake)."""
    from dataclasses import replace

    from sandbox.courier import CourierFake

    class FastCourierFake(CourierFake):
        _filtered_key = None
        _filtered: list = []

        def handle(self, request):
            after = request.arg("enqueued_after")
            if request.path.strip("/") != "messages" or not after:
                return super().handle(request)
            messages = self.tables["messages"]
            key = (after, id(messages), len(messages))
            if key != self._filtered_key:
                self._filtered = [m for m in messages if m["enqueued"] > int(after)]
                self._filtered_key = key
            query = {k: v for k, v in request.query.items() if k != "enqueued_after"}
            self.tables["messages"] = self._filtered
            try:
                return super().handle(replace(request, query=query))
            finally:
                self.tables["messages"] = messages

    return FastCourierFake(counts={"messages": rows})


def bench_configuration(name: str, fake, base_url: str) -> dict:
    configuration = dict(fake.configuration(base_url))
    if name == "pindrop":  # one report of N rows; lookback 0: the API needs no day read twice (see README)
        configuration.update(report_types="calls", start_date=PINDROP_DAY.isoformat(), lookback_days="0")
    if name == "courier":  # every message (the fake's start_date would leave most of a large walk out)
        configuration.pop("start_date", None)
    return configuration


def pages_until_short(rows: int, size: int) -> int:
    """Page-number paging without a total: the walk ends on the first page with fewer than ``size`` rows."""
    return rows // size + 1


def pages_by_cursor(rows: int, size: int) -> int:
    """Cursor or link paging that says when there is no more: at least one page."""
    return max(1, math.ceil(rows / size))


def expected_requests(name: str, fake, configuration: dict) -> dict:
    """The fewest requests the API allows for the initial sync and for an incremental one with no change."""
    return globals()[f"_expected_{name}"](fake, configuration)


def _expected_pindrop(fake, configuration) -> dict:
    # a token; the report of the day; the day after (today), which answers 404 "not generated yet" and ends the walk
    return {"initial": 3, "incremental": 2,
            "how": "1 token + the report + 1 probe of today (404); incremental: 1 token + the probe"}


def _expected_courier(fake, configuration) -> dict:
    full_scan = sum(pages_by_cursor(len(fake.tables[route]), size) for route, size in COURIER_PAGES.items())
    messages = fake.tables["messages"]
    watermark = max(m["enqueued"] for m in messages)
    lookback_ms = int(configuration.get("messages_lookback_days") or 3) * 86_400_000
    recent = sum(1 for m in messages if m["enqueued"] > watermark - lookback_ms)
    return {"initial": full_scan + pages_by_cursor(len(messages), COURIER_MESSAGE_PAGE),
            "incremental": full_scan + pages_by_cursor(recent, COURIER_MESSAGE_PAGE),
            "how": f"{full_scan} pages of the six unfiltered tables + messages at 10 a page"}


def _expected_customer_thermometer(fake, configuration) -> dict:
    today = datetime.now(timezone.utc).date()
    first = date.fromisoformat(configuration["from_date"])
    last = today + timedelta(days=1)
    fixed = 2 + 6  # the two reference lists, the six metrics
    windows = 0
    for table, column in (("responses", "response_date"), ("comments", "date_submitted")):
        rows = fake.responses if table == "responses" else fake.comments
        days = sorted(row[column][:10] for row in rows)
        windows += _fewest_windows(days, first, last, CT_WINDOW_LIMIT)
    return {"initial": fixed + windows, "incremental": fixed + 2,
            "how": "2 lists + 6 metrics + the fewest date windows under 10,000 rows each (an oracle that knows "
                   "the density), a multi-day window followed by one starting on its last day"}


def _fewest_windows(days: list[str], first: date, last: date, limit: int) -> int:
    """Greedy covering of [first, last] by windows holding fewer than ``limit`` rows each (farthest reach)."""
    def count(start: date, end: date) -> int:
        return bisect.bisect_right(days, end.isoformat()) - bisect.bisect_left(days, start.isoformat())

    windows, start = 0, first
    while True:
        low, high = 0, (last - start).days  # the longest span from ``start`` that is not full
        while low < high:
            middle = (low + high + 1) // 2
            if count(start, start + timedelta(days=middle)) < limit:
                low = middle
            else:
                high = middle - 1
        end = start + timedelta(days=low)
        windows += 1
        if end >= last:
            return windows
        start = end if end > start else end + timedelta(days=1)


def _expected_aroflo(fake, configuration) -> dict:
    values = {(zone, field): [v for v in fake._base_values(zone, field)[1:] if v is not None]
              for zone, field in (("users", "lastupdateddatetimeutc"), ("users", "createddatetimeutc"),
                                  ("suppliers", "datetimeinserted"), ("payments", "datepaid"))}
    initial = sum(pages_until_short(len(v), AROFLO_PAGE) for v in values.values())
    lookbacks = {"lastupdateddatetimeutc": 3600, "createddatetimeutc": 3600, "datetimeinserted": 3600,
                 "datepaid": 8}  # seconds before the cursor; payments: whole days, ``> cursor - 8 days``
    incremental = 0
    for (_, field), seen in values.items():
        # suppliers' cursor is read back at whole seconds (the fake's values carry hundredths)
        top = math.floor(max(seen)) if field == "datetimeinserted" else max(seen)
        incremental += pages_until_short(sum(1 for v in seen if v > top - lookbacks[field]), AROFLO_PAGE)
    incremental += 1  # suppliers' LastUpdate change feed: one short page (nothing changed); the initial sync's full
    # scan makes it unnecessary there
    return {"initial": initial, "incremental": incremental,
            "how": "500 a page; users: the updated walk and the created walk; suppliers (and their LastUpdate feed, "
                   "incremental only); payments; each walk ends on a short page"}


def _expected_xurrent(fake, configuration) -> dict:
    initial, incremental = 1, 1  # one token (OAuth client credentials; it lives 2 hours) per sync
    for table in ("organizations", "products", "projects"):
        order = fake.order[table]
        low = 0
        while True:
            remaining = len(order) - low
            if remaining <= XURRENT_WALK_CAP:
                initial += pages_by_cursor(remaining, XURRENT_PAGE)
                break
            initial += math.ceil(XURRENT_WALK_CAP / XURRENT_PAGE)  # the capped walk, then a new window from there
            low = bisect.bisect_left(order, (order[low + XURRENT_WALK_CAP - 1][0], 0))
        latest = order[-1][0] if order else None
        tail = len(order) - bisect.bisect_left(order, (latest, 0)) if order else 0
        incremental += pages_by_cursor(tail, XURRENT_PAGE)
    return {"initial": initial, "incremental": incremental,
            "how": "1 token + 100 a page per table (walks capped at 100,000 continue from their last second); "
                   "incremental: the cursor's second again"}


# --- the fake's server process -----------------------------------------------------------------------------

def serve(spec: dict) -> int:
    """Serve one fake; answer commands on stdin: ``clear``, ``dump <path>`` (the request log since the last clear,
    as JSON lines), ``quit``."""
    from sandbox.server import Sandbox

    started = time.perf_counter()
    fake = make_fake(spec["name"], spec["rows"])
    box = Sandbox(fake).start()
    configuration = bench_configuration(spec["name"], fake, box.url(spec["name"]))
    expected = expected_requests(spec["name"], fake, configuration)
    print(json.dumps({"port": box.port, "base_url": box.url(spec["name"]), "configuration": configuration,
                      "expected": expected, "setup_s": round(time.perf_counter() - started, 2)}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "clear":
            box.requests.clear()
            print("ok", flush=True)
        elif command == "dump":
            logged = [r for r in list(box.requests) if r.source == spec["name"]]
            with open(argument, "w") as out:
                for r in logged:
                    out.write(json.dumps({"method": r.method, "path": r.path, "query": r.raw_query,
                                          "body": base64.b64encode(r.body).decode(),
                                          "content_type": r.header("content-type")}) + "\n")
            box.requests.clear()
            print(len(logged), flush=True)
        elif command == "quit":
            break
    box.stop()
    return 0


class Server:
    def __init__(self, name: str, rows: int, log_path: Path):
        self.log_file = open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "tools.bench", "--serve",
                                         json.dumps({"name": name, "rows": rows})], cwd=ROOT, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log_file)
        first = self.process.stdout.readline()
        if not first:
            raise RuntimeError(f"the {name} fake did not start; see {log_path}")
        self.info = json.loads(first)

    def command(self, text: str) -> str:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        try:
            self.command("quit")
        except (BrokenPipeError, ValueError):
            pass
        self.process.wait(timeout=60)
        self.log_file.close()


# --- the child processes -----------------------------------------------------------------------------------

def _load_connector(project: Path, module_name: str):
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))  # the staged shared/ next to connector.py, as deployed
    spec = importlib.util.spec_from_file_location(module_name, project / "connector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patch_runner(home: Path) -> None:
    """What tests/harness.py LocalRunner patches: the SDK's network version checks and its pipreqs run."""
    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    os.environ["HOME"] = str(home)
    cli_connector.check_newer_version = lambda *a, **k: None
    cli_connector.validate_requirements_file = lambda *a, **k: None
    core_runner.check_newer_version = lambda *a, **k: None


def _bench_patches(name: str, module) -> None:
    """The API's pacing off (its floor is computed separately), and Pindrop's "today" pinned to the fake's."""
    if name == "aroflo":
        module.new_rate_limiter = lambda: None
    if name == "xurrent":
        module.RateLimiter = lambda *a, **k: None
    if name == "pindrop":
        module.today_utc = lambda: PINDROP_DAY + timedelta(days=1)


def _debug(connector, project: Path, configuration: dict, state: dict) -> bool:
    connector._debug_crash_report = None
    try:
        connector.debug(project_path=str(project), configuration=dict(configuration), state=state)
    except SystemExit as exit_:
        return exit_.code in (0, None)
    return True


class _Recorder:
    """Stands in for ``op`` during the capture: keeps every operation, in order."""

    def __init__(self):
        self.operations: list[tuple] = []

    def upsert(self, table, data, **_):
        self.operations.append(("upsert", table, data))

    def truncate(self, table, **_):
        self.operations.append(("truncate", table, None))

    def checkpoint(self, state):
        self.operations.append(("checkpoint", None, json.loads(json.dumps(state))))

    def update(self, table, modified, **_):
        self.operations.append(("update", table, modified))

    def delete(self, table, keys, **_):
        self.operations.append(("delete", table, keys))

    def warning(self, message):
        pass


def child(mode: str, spec: dict) -> dict:
    name, project, home = spec["name"], Path(spec["project"]), Path(spec["home"])
    configuration = spec["configuration"]
    if mode == "transport":
        return _transport(spec)
    from fivetran_connector_sdk import Logging

    _patch_runner(home)
    if mode == "sync":
        module = _load_connector(project, f"bench_{name}")
        _bench_patches(name, module)
        state_file = project / "files" / "state.json"
        state = json.loads(state_file.read_text()) if spec.get("incremental") else {}
        start_kb = _status_kb("VmRSS")
        started = time.perf_counter()
        ok = _debug(module.connector, project, configuration, state)
        seconds = time.perf_counter() - started
        return {"ok": ok, "seconds": seconds, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "start_rss_kb": start_kb}
    if mode == "stream":
        return _stream(name, project, configuration)
    # mode == "ingest": capture the rows (not timed), then replay them through the runner with no HTTP at all
    from fivetran_connector_sdk import Connector
    from fivetran_connector_sdk import Operations as sdk_op

    Logging.LOG_LEVEL = Logging.Level.WARNING  # the connector logs outside a run during the capture
    module = _load_connector(project, f"bench_{name}_capture")
    _bench_patches(name, module)
    recorder = module.op = _Recorder()
    module.update(copy.deepcopy(configuration), {})
    operations = recorder.operations

    def replay(configuration, state):
        for kind, table, data in operations:
            if kind == "upsert":
                sdk_op.upsert(table, data)
            elif kind == "checkpoint":
                sdk_op.checkpoint(data)
            elif kind == "truncate":
                sdk_op.truncate(table)
            elif kind == "update":
                sdk_op.update(table, data)
            elif kind == "delete":
                sdk_op.delete(table, data)

    minimal = Connector(update=replay, schema=module.schema)
    gc.collect()
    before_kb = _status_kb("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    ok = _debug(minimal, project, configuration, {})
    seconds = time.perf_counter() - started
    growth_kb = _status_kb("VmHWM") - before_kb  # what the runner added on top of the rows held for the replay
    return {"ok": ok, "seconds": seconds, "runner_growth_kb": growth_kb, "rename_s": _rename_s(operations),
            "rows": sum(1 for kind, _, _ in operations if kind == "upsert"),
            "checkpoints": sum(1 for kind, _, _ in operations if kind == "checkpoint")}


class _WireSink:
    """The runner's end of the stream, as on Fivetran, where the core runs outside the connector's process: each
    record is taken in its encoded form (``row_data``, the bytes that cross the wire) and let go. Counts what the
    runner would have to buffer: the rows between two checkpoints."""

    def __init__(self):
        self.records = self.wire_bytes = self.buffered = self.buffered_max = self.checkpoints = 0

    def record(self, record) -> None:
        self.records += 1
        self.buffered += 1
        self.wire_bytes += sum(len(name) + len(cell) for name, cell in record.row_data.items())

    def checkpoint(self, checkpoint) -> None:
        self.checkpoints += 1
        self.buffered_max, self.buffered = max(self.buffered_max, self.buffered), 0

    def truncate(self, truncate) -> None:
        pass

    def file_chunk(self, chunk) -> None:
        pass

    def warning(self, warning) -> None:
        pass

    def task(self, task) -> None:
        raise RuntimeError(task.message)


def _stream(name: str, project: Path, configuration: dict) -> dict:
    """The connector's process as deployed: the staged connector and the SDK's operations layer, with the runner
    (its buffers, its per-key set, DuckDB) out of the process. Its peak memory is the connector's own."""
    from fivetran_connector_sdk import Logging
    from fivetran_connector_sdk_cli.core_adapter import ConnectorSource

    Logging.LOG_LEVEL = Logging.Level.DEBUG  # as ``debug()`` sets it: the same log lines as the measured sync
    module = _load_connector(project, f"bench_{name}_stream")
    _bench_patches(name, module)
    source = ConnectorSource(module.connector)
    sink = _WireSink()
    started = time.perf_counter()
    source.schema(dict(configuration))
    source.update(dict(configuration), {}, sink)
    seconds = time.perf_counter() - started
    sink.buffered_max = max(sink.buffered_max, sink.buffered)  # the rows the final flush writes
    return {"ok": True, "seconds": seconds, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "records": sink.records, "wire_mb": sink.wire_bytes / 2**20, "buffer_max": sink.buffered_max,
            "checkpoints": sink.checkpoints}


def _rename_s(operations: list) -> float:
    """How long the runner's column renaming takes for these rows: it renames every column name of every row,
    twice (core/runner.py ``record``), without a cache."""
    from fivetran_connector_sdk_core.renaming import Renaming

    column = Renaming(True).column
    started = time.perf_counter()
    for kind, _, data in operations:
        if kind == "upsert":
            for name in data:
                column(name)
                column(name)
    return time.perf_counter() - started


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _transport(spec: dict) -> dict:
    """The logged requests again, on one Session, bodies read in full and not parsed."""
    import requests

    name, configuration = spec["name"], spec["configuration"]
    base = spec["base_url"]
    logged = [json.loads(line) for line in Path(spec["request_log"]).read_text().splitlines()]
    session = requests.Session()
    auth = None
    if name == "courier":
        session.headers.update({"Authorization": f"Bearer {configuration['api_key']}", "Accept": "application/json"})
    if name == "xurrent":
        session.headers.update({"X-Xurrent-Account": configuration["account_id"], "Accept": "application/json"})
    if name == "aroflo":
        sys.path.insert(0, str(ROOT / "aroflo"))
        import aroflo_api

        auth = aroflo_api.AroFloHmacAuth(configuration["uencoded"], configuration["pencoded"],
                                         configuration["orgencoded"], configuration["secret_key"])
    started = time.perf_counter()
    received = 0
    for request in logged:
        url = base + request["path"] + (f"?{request['query']}" if request["query"] else "")
        body = base64.b64decode(request["body"]) or None
        headers = {"Content-Type": request["content_type"]} if body and request["content_type"] else None
        response = session.request(request["method"], url, data=body, headers=headers, auth=auth, stream=True,
                                   timeout=(10, 300))
        chunks = [len(chunk) if request["method"] == "GET" else chunk for chunk in response.iter_content(1 << 18)]
        received += sum(c if isinstance(c, int) else len(c) for c in chunks)
        if request["method"] == "POST" and response.status_code == 200:  # a token: the only body looked at
            token = json.loads(b"".join(chunks) or b"{}").get("access_token")
            session.headers["Authorization"] = f"Bearer {token}"
    seconds = time.perf_counter() - started
    return {"ok": True, "seconds": seconds, "requests": len(logged), "bytes": received,
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def run_child(mode: str, spec: dict, log_path: Path) -> dict:
    result_path = log_path.with_suffix(".json")
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "DO_NOT_TRACK": "1", "HOME": spec["home"]}
    with open(log_path, "w") as log:
        completed = subprocess.run([sys.executable, "-m", "tools.bench", "--child", mode, json.dumps(spec),
                                    str(result_path)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   timeout=7200, check=False)
    if completed.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"{spec['name']} {mode} failed (exit {completed.returncode}); see {log_path}")
    result = json.loads(result_path.read_text())
    if not result.get("ok"):
        raise RuntimeError(f"{spec['name']} {mode}: the sync failed; see {log_path}")
    return result


# --- one measurement -------------------------------------------------------------------------------------------

def fresh_folder(label: str) -> Path:
    folder = WORK / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def child_spec(name: str, info: dict) -> dict:
    """What every child is told: the connector, a quiet HOME, and the fake's configuration and URL."""
    from tools.package import quiet_home

    return {"name": name, "home": str(quiet_home(WORK / "home")), "configuration": info["configuration"],
            "base_url": info["base_url"]}


def fastest_runs(ingests: list[dict], syncs: list[dict], transports: list[dict],
                 requests: list[int]) -> tuple[dict, dict, dict, int]:
    """The fastest run of each timed child; the sync's peak memory and the requests are the largest of its runs
    (the same every run; the most, should one differ)."""
    ingest, sync, transport = (min(runs, key=lambda result: result["seconds"]) for runs in (ingests, syncs, transports))
    return ingest, {**sync, "peak_rss_kb": max(run["peak_rss_kb"] for run in syncs)}, transport, max(requests)


def measure(name: str, rows: int, repeat: int = 1) -> dict:
    """One row of the table. With ``repeat`` > 1 the three timed children (ingest, sync, transport) run that many
    times, interleaved, and each keeps its fastest run: on a shared machine the same sync varies by 15% or more
    from run to run, and the fastest run of each is the least disturbed one."""
    from tools.package import stage

    folder = fresh_folder(f"{name}-{rows}")
    server = Server(name, rows, folder / "server.log")
    try:
        info = server.info
        base = child_spec(name, info)
        ingests, syncs, transports, dumped = [], [], [], []
        for run in range(repeat):
            ingests.append(run_child("ingest", {**base, "project": str(stage(name, folder / f"ingest-{run}"))},
                                     folder / f"ingest-{run}.log"))
            server.command("clear")
            run_project = stage(name, folder / f"sync-{run}")
            syncs.append(run_child("sync", {**base, "project": str(run_project)}, folder / f"sync-{run}.log"))
            dumped.append(int(server.command(f"dump {folder / f'requests-{run}.jsonl'}")))
            if run == 0:
                project = run_project
            transports.append(run_child("transport", {**base, "project": str(project),
                                                      "request_log": str(folder / "requests-0.jsonl")},
                                        folder / f"transport-{run}.log"))
            server.command("clear")
        ingest, sync, transport, requests_made = fastest_runs(ingests, syncs, transports, dumped)
        incremental = run_child("sync", {**base, "project": str(project), "incremental": True},
                                folder / "incremental.log")
        incremental_requests = int(server.command(f"dump {folder / 'incremental-requests.jsonl'}"))
        stream = run_child("stream", {**base, "project": str(project)}, folder / "stream.log")  # writes no file
        server.command("clear")
    finally:
        server.close()
    ceiling = ingest["seconds"] + transport["seconds"]
    return {"connector": name, "rows": ingest["rows"], "scale": rows, "seconds": sync["seconds"],
            "rows_per_s": ingest["rows"] / sync["seconds"], "ingest_s": ingest["seconds"],
            "transport_s": transport["seconds"], "ratio": sync["seconds"] / ceiling,
            "peak_mb": sync["peak_rss_kb"] / 1024, "connector_mb": stream["peak_rss_kb"] / 1024,
            "buffer_max": stream["buffer_max"], "requests": requests_made,
            "expected": info["expected"]["initial"], "incremental_s": incremental["seconds"],
            "incremental_requests": incremental_requests, "incremental_expected": info["expected"]["incremental"],
            "incremental_share": incremental["seconds"] / sync["seconds"], "checkpoints": ingest["checkpoints"],
            "how": info["expected"]["how"], "rename_s": ingest["rename_s"],
            "runner_peak_mb": (sync["start_rss_kb"] + ingest["runner_growth_kb"]) / 1024}


def measure_memory(name: str, rows: int) -> dict:
    """``--memory-only``: child 5 alone (the connector's process, the runner out of it), for the memory target at
    sizes where the full measurement takes half an hour (AroFlo's 1,000,000 rows through the local runner)."""
    from tools.package import stage

    folder = fresh_folder(f"{name}-{rows}-memory")
    server = Server(name, rows, folder / "server.log")
    try:
        spec = {**child_spec(name, server.info), "project": str(stage(name, folder / "stream"))}
        stream = run_child("stream", spec, folder / "stream.log")
        requests_made = int(server.command(f"dump {folder / 'requests.jsonl'}"))
    finally:
        server.close()
    return {"connector": name, "scale": rows, "rows": stream["records"], "seconds": stream["seconds"],
            "connector_mb": stream["peak_rss_kb"] / 1024, "buffer_max": stream["buffer_max"],
            "checkpoints": stream["checkpoints"], "requests": requests_made,
            "expected": server.info["expected"]["initial"]}


MEMORY_HEADER = ("connector", "rows", "time s", "conn MB", "buffer", "checkpoints", "requests", "expected")


def memory_table(results: list[dict]) -> str:
    rows = [(r["connector"], f"{r['rows']:,}", f"{r['seconds']:.2f}", f"{r['connector_mb']:.0f}",
             f"{r['buffer_max']:,}", f"{r['checkpoints']:,}", f"{r['requests']:,}", f"{r['expected']:,}")
            for r in results]
    return markdown(MEMORY_HEADER, rows)


def memory_only(connectors: list[str], scales: list[int], started_on: str) -> int:
    results = []
    for name in connectors:
        for rows in scales:
            print(f"{name}: {rows:,} rows, the connector's process alone ...", flush=True)
            results.append(measure_memory(name, rows))
            print(f"    {results[-1]['seconds']:.2f} s, {results[-1]['connector_mb']:.0f} MB, up to "
                  f"{results[-1]['buffer_max']:,} rows between checkpoints", flush=True)
    misses = memory_misses(results)
    table = memory_table(results)
    print(f"\n{table}\n")
    print("\n".join(f"MISSED: {miss}" for miss in misses) or "the memory target holds")
    path = REPORT.with_name("bench-memory.md")
    path.write_text(f"Memory: {started_on}\n\n{table}\n\n"
                    + ("".join(f"- MISSED: {miss}\n" for miss in misses) or "The memory target holds.\n"))
    print(f"written to {path.relative_to(ROOT)}")
    return 1 if misses else 0


# --- pacing floors, targets, the table ----------------------------------------------------------------------

def floor_s(requests: int, limits: list[tuple[float, int]]) -> float:
    """The least time ``requests`` requests take under sliding-window limits (instant answers)."""
    sent: list[float] = []
    for _ in range(requests):
        at = sent[-1] if sent else 0.0
        for window_s, count in limits:
            if len(sent) >= count:
                at = max(at, sent[-count] + window_s)
        sent.append(at)
    return sent[-1] if sent else 0.0


def check_targets(results: list[dict], million: bool) -> list[str]:
    misses = []
    for r in results:
        label = f"{r['connector']} at {r['scale']:,} rows"
        if r["scale"] >= TARGET_ROWS and r["ratio"] > TIME_RATIO_MAX:
            misses.append(f"{label}: time {r['seconds']:.2f} s is {r['ratio']:.2f} x the ceiling "
                          f"(ingest {r['ingest_s']:.2f} s + transport {r['transport_s']:.2f} s), over {TIME_RATIO_MAX}")
        if r["requests"] != r["expected"]:
            misses.append(f"{label}: {r['requests']} requests, the minimum is {r['expected']} ({r['how']})")
        if r["incremental_requests"] != r["incremental_expected"]:
            misses.append(f"{label}: incremental sync made {r['incremental_requests']} requests, the minimum is "
                          f"{r['incremental_expected']}")
        if r["scale"] >= TARGET_ROWS and r["incremental_share"] >= INCREMENTAL_SHARE_MAX:
            misses.append(f"{label}: incremental sync took {100 * r['incremental_share']:.1f}% of the initial "
                          f"sync's time (target < {100 * INCREMENTAL_SHARE_MAX:.0f}%)")
    return misses + (memory_misses(results) if million else [])


def million_pairs(results: list[dict]) -> list[tuple[str, dict, dict]]:
    """(connector, its 100,000-row result, its 1,000,000-row result) for each connector measured at both."""
    pairs = []
    for name in dict.fromkeys(r["connector"] for r in results):
        by_scale = {r["scale"]: r for r in results if r["connector"] == name}
        if MILLION in by_scale and TARGET_ROWS in by_scale:
            pairs.append((name, by_scale[TARGET_ROWS], by_scale[MILLION]))
    return pairs


def memory_misses(results: list[dict]) -> list[str]:
    """The memory target, per connector measured at both 100,000 and 1,000,000 rows."""
    misses = []
    for name, small, large in million_pairs(results):
        ratio = large["connector_mb"] / small["connector_mb"]
        if ratio > MEMORY_RATIO_MAX:
            misses.append(f"{name}: the connector process's peak memory at 1,000,000 rows is {ratio:.2f} x "
                          f"the peak at 100,000 (target <= {MEMORY_RATIO_MAX})")
        if large["buffer_max"] > MEMORY_RATIO_MAX * small["buffer_max"]:
            misses.append(f"{name}: the runner has to buffer up to {large['buffer_max']:,} rows between two "
                          f"checkpoints at 1,000,000 rows, against {small['buffer_max']:,} at 100,000: the "
                          "checkpoint cadence does not bound it")
    return misses


HEADER = ("connector", "rows", "time s", "rows/s", "ingest s", "transport s", "ratio", "conn MB", "buffer",
          "debug MB", "requests", "expected", "incr s", "incr %", "incr req", "incr exp")


def table_rows(results: list[dict]) -> list[tuple]:
    return [(r["connector"], f"{r['rows']:,}", f"{r['seconds']:.2f}", f"{r['rows_per_s']:,.0f}", f"{r['ingest_s']:.2f}",
             f"{r['transport_s']:.2f}", f"{r['ratio']:.2f}", f"{r['connector_mb']:.0f}", f"{r['buffer_max']:,}",
             f"{r['peak_mb']:.0f}", f"{r['requests']:,}",
             f"{r['expected']:,}", f"{r['incremental_s']:.2f}", f"{100 * r['incremental_share']:.1f}",
             f"{r['incremental_requests']:,}", f"{r['incremental_expected']:,}") for r in results]


def plain_table(results: list[dict]) -> str:
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(results: list[dict]) -> str:
    return markdown(HEADER, table_rows(results))


def markdown(header: tuple, rows: list[tuple]) -> str:
    """A Markdown table: the first column left-aligned, the figures right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def pacing_notes(results: list[dict]) -> list[str]:
    notes = []
    for name, limits in API_LIMITS.items():
        at = [r for r in results if r["connector"] == name and r["scale"] == TARGET_ROWS]
        if not at:
            continue
        r = at[0]
        api_s, own_s = floor_s(r["expected"], limits["api"]), floor_s(r["expected"], limits["connector"])
        notes.append(f"{name}: at 100,000 rows its {r['expected']:,} requests cannot take less than {api_s:,.0f} s "
                     f"under the API's limits ({limits['text']}: {own_s:,.0f} s with the connector's margins); "
                     f"measured with pacing off: {r['seconds']:.1f} s, so the API's limits, not the connector, set "
                     "the sync's time")
    return notes


def bottleneck_notes(results: list[dict]) -> list[str]:
    notes = []
    for r in results:
        if r["scale"] != TARGET_ROWS:
            continue
        own_s = r["seconds"] - r["ingest_s"] - r["transport_s"]
        bound = ("the SDK's local runner is the bottleneck" if r["ingest_s"] >= r["transport_s"]
                 else "transport is the larger part")
        notes.append(f"{r['connector']}: {bound}: replaying the same {r['rows']:,} rows with no HTTP takes "
                     f"{r['ingest_s']:.2f} s ({100 * r['ingest_s'] / r['seconds']:.0f}% of the sync, "
                     f"{r['ingest_s'] / r['rows'] * 1e6:.0f} us a row, {r['checkpoints']} checkpoints), of which "
                     f"{r['rename_s']:.2f} s is the runner renaming each column name of each row twice; transport "
                     f"{r['transport_s']:.2f} s for {r['requests']:,} requests; the connector's own work "
                     f"{max(0.0, own_s):.2f} s")
    return notes


def memory_notes(results: list[dict]) -> list[str]:
    notes = []
    for name, small, large in million_pairs(results):
        runner_ratio = large["runner_peak_mb"] / small["runner_peak_mb"]
        notes.append(f"{name}: the connector's process peaks at {small['connector_mb']:.0f} MB at 100,000 rows "
                     f"and {large['connector_mb']:.0f} MB at 1,000,000 "
                     f"({large['connector_mb'] / small['connector_mb']:.2f} x), and the runner buffers at most "
                     f"{small['buffer_max']:,} and {large['buffer_max']:,} rows between checkpoints; in one "
                     f"process with the SDK's local runner (debug MB): {small['peak_mb']:.0f} MB and "
                     f"{large['peak_mb']:.0f} MB ({large['peak_mb'] / small['peak_mb']:.2f} x), where the minimal "
                     f"connector replaying the same rows through that runner takes "
                     f"{small['runner_peak_mb']:.0f} MB and {large['runner_peak_mb']:.0f} MB "
                     f"({runner_ratio:.2f} x): the local runner's own growth (its set of every upserted key, "
                     "DuckDB's key index)")
    return notes


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} "
            f"{platform.release()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {load}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(DEFAULT_ROWS))
    parser.add_argument("--million", action="store_true", help="also 1,000,000 rows (Pindrop: in one report)")
    parser.add_argument("--connectors", nargs="+", choices=CONNECTORS, default=list(CONNECTORS))
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                        help="runs of each timed child (ingest, sync, transport); the fastest of each counts")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the connector's process (child 5), for the memory target; table in "
                             "build/bench-memory.md")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SPEC", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(json.loads(args.serve))
    if args.child:
        mode, spec, result_path = args.child
        Path(result_path).write_text(json.dumps(child(mode, json.loads(spec))))
        return 0
    scales = sorted(set(args.rows) | ({MILLION} if args.million else set()))
    started_on = machine()  # the load average before the run: other work on the machine skews every figure
    print(f"{started_on}\n", flush=True)
    if args.memory_only:
        return memory_only(args.connectors, scales, started_on)
    results = []
    for name in args.connectors:
        for rows in scales:
            print(f"{name}: {rows:,} rows ...", flush=True)
            result = measure(name, rows, args.repeat)
            results.append(result)
            print(f"    {result['seconds']:.2f} s, ratio {result['ratio']:.2f}, {result['requests']:,} requests "
                  f"(minimum {result['expected']:,}), connector {result['connector_mb']:.0f} MB, with the local "
                  f"runner {result['peak_mb']:.0f} MB, incremental "
                  f"{result['incremental_s']:.2f} s", flush=True)
    misses = check_targets(results, args.million)
    notes = bottleneck_notes(results) + memory_notes(results) + pacing_notes(results)
    print()
    print(plain_table(results))
    print()
    for note in notes:
        print(f"- {note}")
    print()
    legend = ("ratio = time / (ingest ceiling + transport ceiling); incr = an incremental sync with no change "
              "(its share of the initial sync's time, its requests and the minimum)")
    print(legend)
    print("\n".join(f"MISSED: {miss}" for miss in misses) or "every target holds")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(f"Benchmark: {started_on}\n\n{markdown_table(results)}\n\n{legend}.\n\n"
                      + "".join(f"- {note}\n" for note in notes) + "\n"
                      + ("".join(f"- MISSED: {miss}\n" for miss in misses) or "Every target holds.\n"))
    print(f"written to {REPORT.relative_to(ROOT)}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
