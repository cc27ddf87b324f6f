"""Xurrent connector against its sandbox fake (real HTTP on 127.0.0.1): rows, paging, cursors, windows, resume."""

import math
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from sandbox.xurrent import ACCOUNT, FIELDS, XurrentFake
from shared.http_client import HttpError
from shared.pagination import PaginationError
from tests.harness import Recorder, run_update

TABLES = ("organizations", "products", "projects")


def utc_cursor(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_state(fake: XurrentFake) -> dict:
    return {table: {"cursor": utc_cursor(max(fake.updated[table].values()))} for table in TABLES}


def synced(recorder: Recorder, table: str) -> dict:
    return {key[0]: row for key, row in recorder.table(table, ["id"]).items()}


def query(request) -> dict:
    return {name: values[0] for name, values in request.query.items()}


def api_requests(box, table: str | None = None):
    return [r for r in box.requests_to("xurrent", f"/v1/{table}" if table else "/v1/")]


def test_every_table_delivers_every_row_once_across_pages(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    recorder, state = run_update(xurrent, box.configuration("xurrent"))
    for table in TABLES:
        assert set(synced(recorder, table)) == fake.ids(table), table
        assert len(recorder.upserts(table)) == len(fake.ids(table)), f"{table}: a row was delivered twice"
        assert len(api_requests(box, table)) == math.ceil(len(fake.ids(table)) / 100), table
    assert state == expected_state(fake)
    # Small tables are committed once, at their end: the cadence is every 5,000 rows (or 30 s).
    assert len(recorder.checkpoints) == 3


def test_a_long_walk_checkpoints_its_cursor_at_page_boundaries_at_the_cadence(xurrent, sandbox, sleeps, monkeypatch):
    """What a crash (no chance to checkpoint on the way out) falls back to: the last cadence checkpoint."""
    monkeypatch.setattr(xurrent, "__CHECKPOINT_EVERY_ROWS", 200)
    fake = XurrentFake()
    box = sandbox(fake)
    recorder, state = run_update(xurrent, box.configuration("xurrent"))
    organizations = [c["organizations"]["cursor"] for c in recorder.checkpoints if "products" not in c]
    # 230 organizations in pages of 100: a checkpoint after page 2 (200 rows), then the table's own at its end.
    assert len(organizations) == 2 and organizations[-1] == state["organizations"]["cursor"]
    page_two = sorted(fake.updated["organizations"].values())[199]
    assert organizations[0] == utc_cursor(page_two)


def test_requests_carry_the_account_sort_page_size_and_every_documented_field(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    run_update(xurrent, box.configuration("xurrent"))
    for table in TABLES:
        first = query(api_requests(box, table)[0])
        assert first["per_page"] == "100" and first["sort"] == "updated_at"
        requested = set(first["fields"].split(","))
        assert requested <= set(FIELDS[table]["default"] + FIELDS[table]["extra"])  # documented only
        assert set(FIELDS[table]["default"]) <= requested
        assert "updated_at" not in first  # no state and no initial_sync_days: all history
    assert {"disabled", "business_unit", "custom_fields"} <= set(query(api_requests(box, "organizations")[0])["fields"]
                                                                 .split(","))
    assert {"customer", "custom_fields"} <= set(query(api_requests(box, "projects")[0])["fields"].split(","))
    assert all(r.header("x-xurrent-account") == ACCOUNT for r in api_requests(box))


def test_next_links_are_followed_verbatim_with_their_opaque_search_after(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    run_update(xurrent, box.configuration("xurrent"))
    second = api_requests(box, "organizations")[1]
    assert ",sourceID,name," not in second.raw_query  # the first request is built by requests ...
    assert "fields=sourceID,name,parent," in second.raw_query  # ... the next one is the link, commas and all
    assert second.query["search_after"][0].startswith("100,")
    assert "search_after" not in api_requests(box, "organizations")[0].query


def test_rows_are_flattened_typed_and_in_utc(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    organizations = synced(recorder, "organizations")
    raw = fake.record("organizations", 1004, FIELDS["organizations"]["default"] + ["disabled"])
    assert raw["disabled"] is True and "disabled" not in fake.record("organizations", 1005, ["disabled"])
    assert organizations[1004]["disabled"] is True and organizations[1005]["disabled"] is False
    assert organizations[1000]["parent_id"] is None and "parent" not in organizations[1000]
    assert organizations[1009]["parent_id"] == 1003 and organizations[1009]["parent_name"].endswith("00003")
    assert organizations[1005]["manager_account_id"] == "wdc"
    assert organizations[1003]["custom_fields"] == [{"id": "cost_center", "value": "CC-3"}]
    # Timestamps with local offsets (-05:00, +05:30, Z, ...) arrive in UTC.
    suffixes = set()
    for row_id in range(1000, 1007):
        local = fake.record("organizations", row_id, ["updated_at"])["updated_at"]
        suffixes.add(local[19:])
        assert organizations[row_id]["updated_at"] == datetime.fromisoformat(local.replace("Z", "+00:00")).astimezone(
            timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert {"-05:00", "-06:00", "Z", "+05:30"} <= suffixes
    products, projects = synced(recorder, "products"), synced(recorder, "projects")
    assert products[200000]["salvage_value"] == "320000.0" and products[200001]["salvage_value"] == "320007.25"
    assert products[200000]["recurrence"] == {"frequency": "monthly", "interval": 1, "day_of_month": [1, 15]}
    assert products[200004]["service_provider_account_id"] == "wdc" and products[200003]["disabled"] is True
    project = projects[500001]
    assert project["cost_of_purchases"] == "320000.0" and project["total_cost"] == "321012.50"
    assert project["customer_id"] is not None and project["service_provider_id"] == 44
    assert project["completion_target_at"].endswith("Z") and project["completed_at"] is None
    assert "disabled" not in project


def test_the_next_sync_asks_for_updated_at_from_the_cursor_and_gets_the_changes(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    _, state = run_update(xurrent, configuration)
    box.requests.clear()
    fake.control_mutate("organizations", insert=2, update=[1010], disable=[1011])
    recorder, new_state = run_update(xurrent, configuration, state)
    for table in TABLES:
        (only,) = api_requests(box, table)  # one page: the changes and the cursor's own second
        assert query(only)["updated_at"] == f">={state[table]['cursor']}"
        assert "updated_at=%3E%3D" in only.raw_query  # URL-encoded by requests
    organizations = synced(recorder, "organizations")
    assert {1010, 1011, *fake.ids("organizations") - set(range(1000, 1230))} <= set(organizations)
    assert organizations[1010]["name"].endswith("(edited)") and organizations[1011]["disabled"] is True
    assert len(recorder.upserts("products")) == 1  # only the row(s) at the cursor's second
    assert new_state == expected_state(fake) and new_state["organizations"] != state["organizations"]


def test_an_unchanged_source_costs_one_request_per_table(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    configuration = box.configuration("xurrent")
    _, state = run_update(xurrent, configuration)
    box.requests.clear()
    _, again = run_update(xurrent, configuration, state)
    assert len(api_requests(box)) == 3 and again == state


def test_initial_sync_days_bounds_the_first_sync_only(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    fake.control_mutate("products", insert=1)  # a row updated "now" in the source
    box = sandbox(fake)
    configuration = {**box.configuration("xurrent"), "initial_sync_days": "30"}
    recorder, state = run_update(xurrent, configuration)
    since = query(api_requests(box, "products")[0])["updated_at"]
    start = datetime.strptime(since, ">=%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(start - (datetime.now(timezone.utc) - timedelta(days=30))) < timedelta(minutes=1)
    assert len(recorder.upserts("products")) == (1 if start.timestamp() < max(fake.updated["products"].values())
                                                  else 0)
    box.requests.clear()
    run_update(xurrent, configuration, {"products": {"cursor": "2024-01-02T00:00:00Z"}})
    assert query(api_requests(box, "products")[0])["updated_at"] == ">=2024-01-02T00:00:00Z"


def test_with_incremental_sync_off_every_sync_reads_everything(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    configuration = {**box.configuration("xurrent"), "enable_incremental_sync": "false"}
    _, state = run_update(xurrent, configuration)
    box.requests.clear()
    recorder, again = run_update(xurrent, configuration, state)
    assert all("updated_at" not in r.query for r in api_requests(box))
    assert set(synced(recorder, "projects")) == fake.ids("projects") and again == state


def test_a_failure_mid_table_resumes_from_the_last_checkpoint_without_loss(xurrent, sandbox, sleeps):
    fake = XurrentFake(counts={"organizations": 1000})
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    box.faults.add("xurrent", "/v1/organizations", "status", nth=6, times=None, status=500)
    failed = Recorder()
    with pytest.raises(HttpError, match="organizations returned HTTP 500 after 4 attempts"):
        run_update(xurrent, configuration, recorder=failed)
    saved = failed.checkpoints[-1]
    assert list(saved) == ["organizations"]  # no other table was touched
    last_checkpoint = max(i for i, (kind, _, _) in enumerate(failed.operations) if kind == "checkpoint")
    committed = {data["id"] for kind, _, data in failed.operations[:last_checkpoint] if kind == "upsert"}
    box.faults.clear()
    box.requests.clear()
    recorder, state = run_update(xurrent, configuration, saved)
    assert query(api_requests(box, "organizations")[0])["updated_at"] == f">={saved['organizations']['cursor']}"
    again = {row["id"] for row in recorder.upserts("organizations")}
    assert committed | again == fake.ids("organizations")
    assert len(committed) == 500  # five pages of 100, each checkpointed
    assert len(committed & again) <= 3  # only the cursor's own second is read again (3 rows share each second)
    assert state == expected_state(fake)


def test_a_capped_walk_continues_in_updated_at_windows_until_every_row_arrives(xurrent, sandbox, sleeps, log,
                                                                                monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    fake = XurrentFake(counts={"organizations": 1000, "products": 40, "projects": 40}, walk_cap=250)
    box = sandbox(fake)
    recorder, state = run_update(xurrent, box.configuration("xurrent"))
    assert set(synced(recorder, "organizations")) == fake.ids("organizations")
    assert fake.throttled_pages >= 3
    windows = [query(r).get("updated_at") for r in api_requests(box, "organizations") if "search_after" not in r.query]
    assert windows[0] is None and len(windows) == fake.throttled_pages + 1
    assert windows[1:] == sorted(set(windows[1:]))  # each window starts later than the one before
    assert "capped the walk" in log.text()
    assert state["organizations"] == expected_state(fake)["organizations"]


def test_more_rows_in_one_second_than_the_cap_fails_loudly(xurrent, sandbox, sleeps):
    fake = XurrentFake(counts={"organizations": 600}, rows_per_second=1000, walk_cap=250)  # 300 rows a second
    box = sandbox(fake)
    with pytest.raises(PaginationError, match="more records than the API's per-walk cap share updated_at"):
        run_update(xurrent, box.configuration("xurrent"))
    assert len(api_requests(box, "organizations")) == 6  # a capped walk, then a window that cannot advance


def test_disabling_is_how_xurrent_retires_records_and_it_arrives_as_an_update(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    _, state = run_update(xurrent, configuration)
    fake.control_mutate("products", disable=[200010])
    recorder, _ = run_update(xurrent, configuration, state)
    assert synced(recorder, "products")[200010]["disabled"] is True


def test_quota_pacing_waits_for_the_reset_instead_of_hitting_429(xurrent, sandbox, sleeps, clock, log, monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    fake = XurrentFake(quota=4, quota_window_s=60, clock=clock)
    box = sandbox(fake)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert set(synced(recorder, "projects")) == fake.ids("projects")
    assert "quota nearly spent" in log.text()
    assert sum(1 for s in sleeps if 55 < s <= 62) >= 2  # waited for the window to reset, twice
    assert fake.refused[429] == 0 and len(api_requests(box)) == 8  # no request was refused and retried


def test_the_burst_limiter_keeps_under_20_requests_per_2_seconds(xurrent, sandbox, sleeps, clock):
    fake = XurrentFake(counts={"organizations": 4500}, burst_limit=20, clock=clock)  # a 21st request in 2 s: 429
    box = sandbox(fake)
    started = clock()
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert len(recorder.upserts("organizations")) == 4500
    assert fake.refused[429] == 0 and len(api_requests(box)) == 45 + 2 + 3
    # Paced on the virtual clock: requests 21 and 41 wait for a 2.2 s window each (real time counts too).
    assert clock() - started >= 2 * 2.2 and max(sleeps) <= 2.2


def test_a_429_is_retried_after_its_retry_after(xurrent, sandbox, sleeps):
    fake = XurrentFake()
    box = sandbox(fake)
    box.faults.add("xurrent", "/v1/products", "status", nth=2, status=429, retry_after=7)
    recorder, _ = run_update(xurrent, box.configuration("xurrent"))
    assert 7.0 in sleeps and set(synced(recorder, "products")) == fake.ids("products")


def test_form_encoded_state_from_an_older_cursor_format_is_read(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake())
    state = {"projects": {"cursor": "2024-01-02T18:00:00.000000Z"}}
    run_update(xurrent, box.configuration("xurrent"), state)
    assert parse_qs(api_requests(box, "projects")[0].raw_query)["updated_at"] == [">=2024-01-02T18:00:00Z"]
