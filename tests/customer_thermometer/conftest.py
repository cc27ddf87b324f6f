"""Fixtures for the Customer Thermometer tests: the connector with a fixed clock, short timeouts and a list log."""

from datetime import datetime, timezone

import pytest

from tests.conftest import ListLog
from tests.harness import load_connector

# The fake's responses run from 2019-01-01 to 2026-06-30; "today" is two days later.
NOW = datetime(2026, 7, 2, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def ct(monkeypatch):
    """The connector module, with the clock at NOW, 1 s read timeouts and a log that records its lines."""
    module = load_connector("customer_thermometer")
    monkeypatch.setattr(module, "utc_now", lambda: NOW)
    monkeypatch.setattr(module, "__TIMEOUT_S", (2.0, 1.0))
    monkeypatch.setattr(module, "log", ListLog())
    return module


def small_limits(monkeypatch, module, row_limit=100, day_row_limit=400, checkpoint_rows=5_000):
    """Limits small enough for the fake's few thousand rows to need window splitting."""
    monkeypatch.setattr(module, "__WINDOW_ROW_LIMIT", row_limit)
    monkeypatch.setattr(module, "__DAY_ROW_LIMIT", day_row_limit)
    monkeypatch.setattr(module, "__CHECKPOINT_EVERY_ROWS", checkpoint_rows)
