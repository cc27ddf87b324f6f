"""Fixtures shared by every test: no real sleeping, and a sandbox started on demand."""

import time

import pytest
from fivetran_connector_sdk import Logging

from sandbox.server import Sandbox
from shared import http_client

# Tests that take tens of seconds, longest first. They are run first so that, on a machine with few cores, the
# short tests fill the gaps around them instead of one long test starting last and running alone.
_LONG_RUNNING = (
    "tests/e2e/test_crash.py::",
    "tests/test_packaging.py::test_each_package_syncs_from_an_empty_folder",
    "tests/pindrop/test_pindrop_memory.py::",
    "tests/e2e/",
)


def pytest_collection_modifyitems(config, items):
    """Order the long tests first (a stable sort: the rest keep their order)."""

    def rank(item) -> int:
        return next((i for i, prefix in enumerate(_LONG_RUNNING) if item.nodeid.startswith(prefix)),
                    len(_LONG_RUNNING))

    items.sort(key=rank)


@pytest.fixture(autouse=True, scope="session")
def sdk_logging():
    """The SDK's Logging raises outside a sync unless a level is set; connectors log from unit tests too."""
    if Logging.LOG_LEVEL is None:
        Logging.LOG_LEVEL = Logging.Level.INFO


@pytest.fixture
def sleeps(monkeypatch):
    """Patch out sleeping in the HTTP client; the list records every requested wait.

    The client's clocks move forward by every wait, so a rate limiter or a token expiry sees the time pass.
    """
    waited: list[float] = []
    skipped = [0.0]

    def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        skipped[0] += max(0.0, seconds)

    real_monotonic, real_wall_clock = time.monotonic, time.time
    monkeypatch.setattr(http_client, "sleep", fake_sleep)
    monkeypatch.setattr(http_client, "monotonic", lambda: real_monotonic() + skipped[0])
    monkeypatch.setattr(http_client, "wall_clock", lambda: real_wall_clock() + skipped[0])
    return waited


@pytest.fixture
def sandbox():
    """``sandbox(*fakes)`` starts a server on 127.0.0.1 with those fakes; stopped after the test.

    A test that injects a fault which never fires tests nothing about it (the route moved, the table got one page
    shorter, and the test still passes): such a test fails here. ``box.faults.clear()`` drops faults on purpose."""
    started: list[Sandbox] = []

    def start(*fakes) -> Sandbox:
        box = Sandbox(*fakes).start()
        started.append(box)
        return box

    yield start
    unfired = [fault for box in started for fault in box.faults.planned() if fault.fired == 0]
    for box in started:
        box.stop()
    if unfired:
        pytest.fail("fault(s) never fired, so the test did not exercise them: "
                    + "; ".join(f"{f.kind} on {f.source} {f.path} (request {f.nth}, {f.seen} seen)" for f in unfired))


class ListLog:
    """A stand-in for the SDK's Logging: records (level, message)."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def info(self, message):
        self.lines.append(("INFO", message))

    def warning(self, message):
        self.lines.append(("WARNING", message))

    def severe(self, message, *_):
        self.lines.append(("SEVERE", message))

    def error(self, message, *_):
        self.lines.append(("ERROR", message))

    def fine(self, message):
        self.lines.append(("FINE", message))

    def text(self) -> str:
        return "\n".join(message for _, message in self.lines)


@pytest.fixture
def log():
    return ListLog()
