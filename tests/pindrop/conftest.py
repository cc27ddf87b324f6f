"""Fixtures and helpers for the Pindrop tests: the connector with a fixed "today", and the fake's expected rows."""

from collections import Counter
from datetime import date, timedelta

import pytest

from sandbox.pindrop import COLUMNS, REPORT_TYPES, PindropFake
from tests.harness import load_connector

TODAY = date(2026, 3, 15)
KEYS = {"blacklist": "phone_number", "calls": "id", "audit": "id", "cases": "id", "account_risk": "id",
        "enrollment": "id"}


def day(offset: int) -> date:
    """``TODAY + offset`` days (offset is usually negative)."""
    return TODAY + timedelta(days=offset)


@pytest.fixture
def pindrop(monkeypatch):
    module = load_connector("pindrop")
    monkeypatch.setattr(module, "today_utc", lambda: TODAY)
    monkeypatch.setattr(module, "__TIMEOUT_S", (2.0, 1.0))
    return module


@pytest.fixture
def fake_box(sandbox):
    """``fake_box(**fake_options)`` -> (fake, sandbox, configuration) with the fake's today = TODAY."""

    def start(**options):
        fake = PindropFake(**{"today": TODAY, **options})
        box = sandbox(fake)
        return fake, box, box.configuration("pindrop")

    return start


def source_content(fake: PindropFake, report_type: str, report_day: date) -> Counter:
    """What the fake serves for one report, as a multiset of rows (trimmed values, empty as None)."""
    columns = COLUMNS[report_type]
    return Counter(tuple(sorted((name, (value.strip() or None) if value else None)
                                for name, value in zip(columns, row, strict=True)))
                   for row in fake.rows(report_type, report_day))


def delivered_content(rows: list[dict], report_type: str) -> Counter:
    """The delivered rows of one report as the same multiset: added columns dropped, derived keys undone."""
    key = KEYS[report_type]
    result = Counter()
    for row in rows:
        content = {k: v for k, v in row.items() if k not in ("report_date", "report_type")}
        if str(content[key]).startswith("row-"):
            if key in COLUMNS[report_type]:
                content[key] = None
            else:
                content.pop(key)
        result[tuple(sorted(content.items()))] += 1
    return result


def rows_by_day(recorder, report_type: str) -> dict[str, list[dict]]:
    """Live rows per report_date, as the destination holds them (upserts replayed by primary key)."""
    grouped: dict[str, list[dict]] = {}
    for row in recorder.table(report_type, ["report_date", KEYS[report_type]]).values():
        grouped.setdefault(row["report_date"], []).append(row)
    return grouped


def assert_matches_source(recorder, fake: PindropFake, days: list[date], report_types=REPORT_TYPES) -> None:
    """The destination holds exactly the fake's rows for those days (no row lost, none duplicated)."""
    for report_type in report_types:
        by_day = rows_by_day(recorder, report_type)
        assert set(by_day) == {d.isoformat() for d in days}, report_type
        for report_day in days:
            expected = source_content(fake, report_type, report_day)
            assert delivered_content(by_day[report_day.isoformat()], report_type) == expected, \
                (report_type, report_day)
