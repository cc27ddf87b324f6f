"""Fixtures for the AroFlo tests: the connector module, virtual time, and a sandbox with a small AroFlo fake."""

import pytest

from sandbox.aroflo import AroFloFake
from shared import http_client
from shared.http_client import RateLimiter
from tests.conftest import ListLog
from tests.harness import load_connector

SMALL = {"users": 120, "suppliers": 110, "payments": 230}  # 50 rows per page: 3 to 5 pages per walk
KEYS = {"users": "userid", "suppliers": "supplierid", "payments": "paymentid"}


class VirtualTime:
    """A clock that moves only when code sleeps: the rate limiter and the fake share it, nobody waits."""

    def __init__(self):
        self.now = 1_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def vtime(monkeypatch):
    time = VirtualTime()
    monkeypatch.setattr(http_client, "sleep", time.sleep)
    return time


@pytest.fixture
def aroflo(monkeypatch, vtime):
    """The connector, its 3/s and 120/min limiter on virtual time, and its log captured."""
    module = load_connector("aroflo")
    limits = getattr(module, "__RATE_LIMITS")
    monkeypatch.setattr(module, "new_rate_limiter", lambda: RateLimiter(limits, clock=vtime.clock))
    monkeypatch.setattr(module, "log", ListLog())
    return module


@pytest.fixture
def fake_box(sandbox, vtime):
    """``fake_box(**options)``: a started sandbox with a small AroFlo fake on virtual time, and its config."""

    def start(**options):
        options = {"counts": SMALL, "clock": vtime.clock, **options}
        fake = AroFloFake(**options)
        box = sandbox(fake)
        configuration = {**box.configuration("aroflo"), "max_records_per_page": "50"}
        return fake, box, configuration

    return start


def source_ids(fake: AroFloFake, zone: str) -> set[str]:
    return {row[KEYS[zone]] for row in fake.rows(zone)}


def synced(recorder, table: str) -> dict:
    return {key[0]: row for key, row in recorder.table(table, ["id"]).items()}
