"""Courier connector against its sandbox fake (real HTTP on 127.0.0.1) and `responses` mocks."""

import time

import pytest
import responses

from sandbox.courier import DAY_MS, CourierFake
from shared.config import ConfigError
from shared.http_client import HttpError, TransportError
from shared.pagination import PaginationError
from shared.parsing import PayloadError
from shared.state import StateError
from tests.harness import LocalRunner, Recorder, load_connector, run_update

KEYS = {"brand": "id", "audience": "id", "audit_event": "auditEventId", "list": "id", "message": "id",
        "notification": "id", "tenant": "id"}
ROUTES = {"brand": "brands", "audience": "audiences", "audit_event": "audit-events", "list": "lists",
          "message": "messages", "notification": "notifications", "tenant": "tenants"}


@pytest.fixture
def courier(monkeypatch):
    module = load_connector("courier")
    monkeypatch.setattr(module, "__TIMEOUT_S", (2.0, 1.0))
    return module


def source_ids(fake: CourierFake, table: str) -> set:
    return {row[KEYS[table]] for row in fake.tables[ROUTES[table]]}


def synced_ids(recorder, table: str) -> set:
    return {key[0] for key in recorder.table(table, [KEYS[table]])}


def test_every_table_delivers_every_row_across_pages(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    recorder, state = run_update(courier, box.configuration("courier"))
    for table in KEYS:
        assert synced_ids(recorder, table) == source_ids(fake, table), table
        assert len(recorder.upserts(table)) == len(fake.tables[ROUTES[table]]), f"{table}: a row was read twice"
    assert len(box.requests_to("courier", "/messages")) == 10  # 95 messages, 10 per page
    assert len(box.requests_to("courier", "/tenants")) == 1  # limit=100 takes all 45 in one page
    assert all("limit=100" in r.raw_query for r in box.requests_to("courier", "/tenants"))
    assert state == {"message": {"watermark_ms": max(m["enqueued"] for m in fake.tables["messages"])}}


def test_cursors_are_url_encoded(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    run_update(courier, box.configuration("courier"))
    second_page = box.requests_to("courier", "/brands")[1]
    assert "cursor=brands%3A20%3Aa%2Bb%2Fc%3D" in second_page.raw_query


def test_tenants_walk_every_page_with_limit_100_and_the_top_level_cursor(courier, sandbox, sleeps):
    fake = CourierFake(counts={"tenants": 230})
    box = sandbox(fake)
    recorder, _ = run_update(courier, box.configuration("courier"))
    asked = box.requests_to("courier", "/tenants")
    assert [(r.arg("limit"), r.arg("cursor")) for r in asked] == [
        ("100", None), ("100", "tenants:100:a+b/c="), ("100", "tenants:200:a+b/c=")]
    assert synced_ids(recorder, "tenant") == source_ids(fake, "tenant")
    assert len(recorder.upserts("tenant")) == 230


HOST = "https://api.courier.com"


def empty_full_scans() -> None:
    """Every full-scan endpoint at the real host answers one empty page (for tests about /messages)."""
    for path in ("brands", "audit-events", "notifications"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        responses.get(f"{HOST}/{path}", json={"items": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [], "has_more": False})


def _paged(key: str, first: list, second: list, cursor: str) -> list[dict]:
    """Two pages of envelope A or B: ``paging.cursor``/``paging.more``, rows under ``key``."""
    return [{key: first, "paging": {"cursor": cursor, "more": True}},
            {key: second, "paging": {"cursor": None, "more": False}}]


@responses.activate
def test_the_documented_envelopes_of_every_endpoint_at_the_real_host(courier, sleeps):
    """Shapes from the contract (sections 3 and 4.1), not from the sandbox: every endpoint over two pages."""
    pages = {
        "/brands": _paged("results", [{"id": "B1", "created": 1591753605265}], [{"id": "B2"}], "b/2+="),
        "/audiences": _paged("items", [{"id": "developer-audience", "updated_at": "2023-08-23T18:45:26.199Z"}],
                             [{"id": "a2"}], "a 2"),
        "/audit-events": _paged("results", [{"auditEventId": "ZX3", "target": "EF60"}],
                                [{"auditEventId": "ZX4", "target": {"id": "EF61", "email": "j@x.com"}}], "e2"),
        "/lists": _paged("results", [{"id": "example.list.id"}], [{"id": "example.list.2"}], "l2"),  # legacy key
        "/notifications": _paged("results", [{"id": "P852", "tags": {"data": []}, "updated_at": 1562611084123}],
                                 [{"id": "nt_1", "tags": ["a"], "updated": 1562611084123}], "n2"),
        "/messages": _paged("results", [{"id": "m2", "enqueued": 1562611073426}],
                            [{"id": "m1", "enqueued": 1562611000000}], "m/2"),
        "/tenants": [{"items": [{"id": "ACME"}], "has_more": True, "cursor": "t=2", "type": "list", "url": "/tenants",
                      "next_url": f"{HOST}/tenants?cursor=t%3D2&limit=100"},
                     {"items": [{"id": "tenant_abc"}], "has_more": False, "type": "list", "url": "/tenants"}],
    }
    for path, (first, second) in pages.items():
        base = {"limit": "100"} if path == "/tenants" else {}
        cursor = first.get("cursor") or first.get("paging", {}).get("cursor")
        responses.get(HOST + path, json=first, match=[responses.matchers.query_param_matcher(base)])
        responses.get(HOST + path, json=second,
                      match=[responses.matchers.query_param_matcher({**base, "cursor": cursor})])
    recorder, state = run_update(courier, {"api_key": "k" * 12})
    for table, path in {"brand": "/brands", "audience": "/audiences", "audit_event": "/audit-events",
                        "list": "/lists", "notification": "/notifications", "message": "/messages",
                        "tenant": "/tenants"}.items():
        key = KEYS[table]
        expected = {row[key] for page in pages[path] for row in page.get("results", page.get("items", []))}
        assert synced_ids(recorder, table) == expected, table
    assert len(responses.calls) == 14
    assert "cursor=b%2F2%2B%3D" in responses.calls[1].request.url  # URL-encoded
    assert recorder.table("brand", ["id"])[("B1",)]["created"] == "2020-06-10T01:46:45.265000Z"
    assert recorder.table("audience", ["id"])[("developer-audience",)]["updated_at"] == "2023-08-23T18:45:26.199000Z"
    assert state == {"message": {"watermark_ms": 1562611073426}}


@pytest.mark.parametrize("watermark", [1_562_611_073_426_000, -1, "2019-07-08"])  # microseconds, negative, ISO
def test_a_saved_watermark_that_is_not_epoch_milliseconds_is_refused(courier, watermark):
    with pytest.raises(StateError, match=r"message watermark_ms .* is not epoch milliseconds"):
        courier.sync_messages(None, courier.validate_configuration({"api_key": "k" * 12}),
                              {"message": {"watermark_ms": watermark}})


@responses.activate
def test_a_tenant_page_with_its_cursor_only_in_next_url_continues_from_it(courier, sleeps):
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "t1"}], "has_more": True,
                                           "next_url": f"{HOST}/tenants?cursor=abc%2B1&limit=100"},
                  match=[responses.matchers.query_param_matcher({"limit": "100"})])
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "t2"}], "has_more": False},
                  match=[responses.matchers.query_param_matcher({"limit": "100", "cursor": "abc+1"})])
    settings = courier.validate_configuration({"api_key": "k" * 12})
    http = courier.new_client(settings)
    pages = list(courier._pages(http, settings, courier.__FULL_SCAN_TABLES[-1]))
    http.close()
    assert [row["id"] for page in pages for row in page.records] == ["t1", "t2"]
    assert responses.calls[1].request.url.startswith(f"{HOST}/tenants?")  # not appended to the base URL


@responses.activate
def test_a_cursor_returned_twice_fails_instead_of_looping(courier, sleeps):
    page = {"results": [{"id": "b"}], "paging": {"more": True, "cursor": "same"}}
    responses.get(f"{HOST}/brands", json=page)
    with pytest.raises(PaginationError, match="twice"):
        run_update(courier, {"api_key": "k" * 12})
    assert len(responses.calls) == 2


@responses.activate
def test_a_message_without_enqueued_is_delivered_and_the_watermark_comes_from_the_others(courier, sleeps):
    empty_full_scans()
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "status": "ENQUEUED"},
                                                        {"id": "m2", "enqueued": 1562611073426}],
                                            "paging": {"more": False}})
    recorder, state = run_update(courier, {"api_key": "k" * 12})
    assert synced_ids(recorder, "message") == {"m1", "m2"}
    assert state["message"]["watermark_ms"] == 1562611073426


def test_rows_are_flattened_typed_and_varying_shapes_kept_whole(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    recorder, _ = run_update(courier, box.configuration("courier"))
    brand = recorder.table("brand", ["id"])[("BRAND0001",)]
    assert brand["settings_colors_primary"] == "#9D3789"
    assert brand["settings_email_footer_content"] == "footer 1"
    assert brand["created"].endswith("Z") and brand["created"].startswith("2025-")
    assert brand["snippets_items"].startswith("[")
    audits = recorder.table("audit_event", ["auditEventId"])
    assert audits[("AE00001",)]["target"] == "user-1"
    assert audits[("AE00002",)]["target"] == {"id": "user-2", "email": "user2@example.com"}
    assert audits[("AE00002",)]["actor_id"] == "actor-2"
    notifications = recorder.table("notification", ["id"])
    v1, v2 = notifications[("NOTIFV10001",)], notifications[("nt_0002",)]
    assert v1["tags"] == {"data": [{"id": "tag-1", "name": "Important"}]} and v1["routing_method"] == "single"
    assert v2["tags"] == ["alpha", "t2"] and v2["state"] == "PUBLISHED"
    assert v1["updated_at"].endswith("Z") and v2["updated"].endswith("Z")
    audience = recorder.table("audience", ["id"])[("audience-2",)]
    assert audience["filter"] == {"operator": "EQ", "path": "title", "value": "role2"}
    assert audience["updated_at"].endswith("Z")
    tenant = recorder.table("tenant", ["id"])[("tenant-002",)]
    assert tenant["properties"] == {"tier": "silver"}
    message = recorder.upserts("message")[0]
    assert message["enqueued"].startswith("2026-") and message["enqueued"].endswith("Z")


@responses.activate
def test_a_blank_timestamp_is_null_in_both_forms(courier, sleeps):
    responses.get(f"{HOST}/brands", json={"results": [{"id": "B1", "created": "", "updated": "  ",
                                                       "published": 1591753605265}], "paging": {"more": False}})
    responses.get(f"{HOST}/audiences", json={"items": [{"id": "a1", "created_at": "", "updated_at": " "}],
                                             "paging": {"more": False}})
    for path in ("audit-events", "notifications", "messages"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    responses.get(f"{HOST}/lists", json={"items": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [], "has_more": False})
    recorder, _ = run_update(courier, {"api_key": "k" * 12})
    brand = recorder.table("brand", ["id"])[("B1",)]
    assert (brand["created"], brand["updated"], brand["published"]) == (None, None, "2020-06-10T01:46:45.265000Z")
    audience = recorder.table("audience", ["id"])[("a1",)]
    assert (audience["created_at"], audience["updated_at"]) == (None, None)


@pytest.mark.parametrize("blank", ["", "   "])
@responses.activate
def test_a_message_with_a_blank_enqueued_is_delivered_with_null_and_not_counted(courier, sleeps, blank):
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m2", "enqueued": blank},
                                                        {"id": "m1", "enqueued": 1591753605265}],
                                            "paging": {"more": False}})
    empty_full_scans()
    recorder, state = run_update(courier, {"api_key": "k" * 12})
    messages = recorder.table("message", ["id"])
    assert messages[("m2",)]["enqueued"] is None
    assert state["message"]["watermark_ms"] == 1591753605265


@pytest.mark.parametrize("value, shown", [
    (True, "True"),  # would land as 1970-01-01T00:00:00.001Z
    ("N/A", "'N/A'"), ("2020-06-10", "'2020-06-10'"), ("nan", "'nan'"), (10**20, "100000000000000000000"),
])
@responses.activate
def test_a_bad_epoch_millisecond_value_fails_naming_table_column_key_and_value(courier, sleeps, value, shown):
    """A full scan that fails commits nothing: no brand is marked deleted, and no wrong date is stored."""
    responses.get(f"{HOST}/brands", json={"results": [{"id": "B1", "created": 1591753605265},
                                                      {"id": "B2", "created": value}], "paging": {"more": False}})
    empty_full_scans()
    failed = _recorder()
    with pytest.raises(PayloadError) as error:
        run_update(courier, {"api_key": "k" * 12}, recorder=failed)
    assert str(error.value) == (f"brand.created of the row with id 'B2' holds {shown}, "
                                "not epoch milliseconds as Courier documents it")
    assert failed.checkpoints == []


@responses.activate
def test_a_bad_message_timestamp_fails_naming_it_and_the_walk_resumes_at_that_page(courier, sleeps):
    empty_full_scans()
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": 9}], "paging": {"cursor": "p2",
                                                                                               "more": True}},
                  match=[responses.matchers.query_param_matcher({})])
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m2", "enqueued": 8, "sent": ""},
                                                        {"enqueued": 7, "opened": "N/A"}],
                                            "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"cursor": "p2"})])
    failed = _recorder()
    with pytest.raises(PayloadError, match=r"^message.opened of a row without id holds 'N/A', not epoch"):
        run_update(courier, {"api_key": "k" * 12}, recorder=failed)
    assert failed.checkpoints[-1]["message"]["walk"]["page_token"] == "p2"  # not past the page that failed
    assert failed.upserts("message")[1] == {"id": "m2", "enqueued": "1970-01-01T00:00:00.008000Z", "sent": None}


@pytest.mark.parametrize("value, shown", [("N/A", "'N/A'"), (1562611073426, "1562611073426"), (True, "True"),
                                          ("x" * 100, "'" + "x" * 56 + "...")])
@responses.activate
def test_a_bad_iso_value_fails_naming_table_column_key_and_value(courier, sleeps, value, shown):
    """The contract gives the ISO columns no epoch form, so a number is refused like any other non-timestamp."""
    empty_full_scans()
    responses.replace(responses.GET, f"{HOST}/audit-events", json={
        "results": [{"auditEventId": "ZX3", "timestamp": value}], "paging": {"more": False}})
    failed = _recorder()
    with pytest.raises(PayloadError) as error:
        run_update(courier, {"api_key": "k" * 12}, recorder=failed)
    assert str(error.value) == (f"audit_event.timestamp of the row with auditEventId 'ZX3' holds {shown}, "
                                "not an ISO-8601 timestamp as Courier documents it")
    truncate_at = failed.operations.index(("truncate", "audit_event", None))
    assert not any(kind == "checkpoint" for kind, _, _ in failed.operations[truncate_at:])


def test_schema_declares_every_table_key_and_types(courier):
    tables = {t["table"]: t for t in courier.schema({})}
    assert set(tables) == set(KEYS)
    for name, key in KEYS.items():
        assert tables[name]["primary_key"] == [key]
    assert tables["message"]["columns"]["enqueued"] == "UTC_DATETIME"
    assert tables["audit_event"]["columns"] == {"timestamp": "UTC_DATETIME", "target": "JSON", **{
        column: "STRING" for column in ("auditEventId", "actor_id", "actor_email", "source", "type")}}
    assert tables["notification"]["columns"]["tags"] == "JSON"


DOCUMENTED_TEXT = {  # the contract's string fields (sections 3.1-3.7), named as flattening names them
    "brand": {"id", "name", "version"},
    "audience": {"id", "name", "description", "operator"},
    "audit_event": {"auditEventId", "actor_id", "actor_email", "source", "type"},
    "list": {"id", "name"},
    "notification": {"id", "title", "topic_id", "routing_method", "note",
                     "name", "state", "creator", "updater", "subscription_topic_id"},
    "tenant": {"id", "name", "parent_tenant_id", "brand_id"},
    "message": {"id", "status", "recipient", "event", "notification", "error", "reason", "recipientId"},
}


def test_schema_declares_every_documented_text_field_as_string(courier):
    """Undeclared, a text column is typed from its values: a brand named "True" would make ``name`` BOOLEAN."""
    for table in courier.schema({}):
        columns = table["columns"]
        assert {c for c, kind in columns.items() if kind == "STRING"} == DOCUMENTED_TEXT[table["table"]]
        assert set(columns.values()) <= {"STRING", "UTC_DATETIME", "JSON"}


def test_lists_answering_with_results_are_read_too(courier, sandbox, sleeps):
    fake = CourierFake(lists_key="results")
    box = sandbox(fake)
    recorder, _ = run_update(courier, box.configuration("courier"))
    assert synced_ids(recorder, "list") == source_ids(fake, "list")


@responses.activate
def test_a_message_enqueued_in_the_future_does_not_push_the_watermark_past_now(courier, sleeps, log, monkeypatch):
    """One message stamped a year ahead would otherwise set every later walk's bound past the messages enqueued
    until then."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    now_ms = int(time.time() * 1000)
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": now_ms + 365 * DAY_MS},
                                                        {"id": "m2", "enqueued": now_ms - DAY_MS}],
                                            "paging": {"more": False}})
    recorder, state = run_update(courier, {"api_key": "k" * 12})
    assert synced_ids(recorder, "message") == {"m1", "m2"}
    assert now_ms <= state["message"]["watermark_ms"] <= int(time.time() * 1000)
    assert "after now; the watermark stays at now" in log.text()


def messages_since(enqueued_after: int | None, rows: list) -> None:
    """/messages answers ``rows`` to exactly this ``enqueued_after`` (None: no filter), and nothing else."""
    query = {} if enqueued_after is None else {"enqueued_after": str(enqueued_after)}
    responses.get(f"{HOST}/messages", json={"results": rows, "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher(query)])


START_MS = 1_735_689_600_000  # start_date 2025-01-01


@pytest.mark.parametrize("start_date, start_ms", [("2025-01-01", START_MS), (None, None)])
@responses.activate
def test_a_saved_watermark_in_the_future_walks_from_the_configured_start(courier, sleeps, log, monkeypatch,
                                                                           start_date, start_ms):
    """Walking from it would read nothing, then reset the watermark to now: every message between the real
    position and now minus the lookback would never be read."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    now_ms = int(time.time() * 1000)
    future = now_ms + 365 * DAY_MS
    missed_before = {"id": "m-old", "enqueued": now_ms - 20 * DAY_MS}  # older than now minus the lookback
    messages_since(start_ms, [{"id": "m-new", "enqueued": now_ms - DAY_MS}, missed_before])
    configuration = {"api_key": "k" * 12, **({"start_date": start_date} if start_date else {})}
    recorder, state = run_update(courier, configuration, {"message": {"watermark_ms": future}})
    assert synced_ids(recorder, "message") == {"m-new", "m-old"}
    assert state["message"] == {"watermark_ms": now_ms - DAY_MS}
    warning = next(text for level, text in log.lines if level == "WARNING")
    assert f"message.watermark_ms {future} (" in warning and "is in the future" in warning
    assert "re-read once (upserts by id absorb the re-read)" in warning


@responses.activate
def test_a_saved_watermark_within_the_clock_skew_is_kept(courier, sleeps, log, monkeypatch):
    """Another machine's clock a few seconds ahead is not the future: the walk starts from that watermark."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    watermark = int(time.time() * 1000) + 10_000
    messages_since(watermark - 3 * DAY_MS, [{"id": "m1", "enqueued": watermark - DAY_MS}])
    recorder, state = run_update(courier, {"api_key": "k" * 12}, {"message": {"watermark_ms": watermark}})
    assert synced_ids(recorder, "message") == {"m1"}
    assert "in the future" not in log.text()


@pytest.mark.parametrize("watermark_days, from_watermark", [(-30, True), (365, False)])  # days from now
@responses.activate
def test_a_saved_walk_with_a_future_lower_bound_starts_a_new_walk(courier, sleeps, log, monkeypatch,
                                                                  watermark_days, from_watermark):
    """Resumed, a walk bounded in the future reads nothing and completes, moving the watermark to now past every
    message not read: a new walk starts from the watermark, or from the configured start if it is future too."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    now_ms = int(time.time() * 1000)
    watermark = now_ms + watermark_days * DAY_MS
    messages_since(watermark - 3 * DAY_MS if from_watermark else None,
                   [{"id": "m1", "enqueued": now_ms - DAY_MS}, {"id": "m2", "enqueued": now_ms - 29 * DAY_MS}])
    walk = {"enqueued_after": now_ms + 300 * DAY_MS, "page_token": "c1", "max_enqueued": now_ms + 300 * DAY_MS,
            "saved_at_s": int(time.time())}
    recorder, state = run_update(courier, {"api_key": "k" * 12},
                                 {"message": {"watermark_ms": watermark, "walk": walk}})
    assert synced_ids(recorder, "message") == {"m1", "m2"}
    assert [c.request.params.get("cursor") for c in responses.calls if "/messages" in c.request.url] == [None]
    assert state["message"] == {"watermark_ms": now_ms - DAY_MS}
    assert f"message.walk.enqueued_after {walk['enqueued_after']} (" in log.text()


def test_next_sync_asks_for_messages_since_the_watermark_minus_the_lookback(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    configuration = box.configuration("courier")
    _, state = run_update(courier, configuration)
    first = box.requests_to("courier", "/messages")[0]
    assert first.arg("enqueued_after") == "1735689600000"  # start_date 2025-01-01
    watermark = state["message"]["watermark_ms"]
    box.requests.clear()
    fake.insert("messages", 3)  # older than the watermark: the sync must not move the watermark back
    recorder, state2 = run_update(courier, configuration, state)
    asked = box.requests_to("courier", "/messages")[0].arg("enqueued_after")
    assert asked == str(watermark - 3 * DAY_MS)
    assert state2["message"]["watermark_ms"] == watermark


def test_a_lookback_of_zero_still_reads_the_watermarks_own_millisecond(courier, sandbox, sleeps):
    """Whether enqueued_after is inclusive is unconfirmed: 1 ms before the watermark holds under either reading."""
    box = sandbox(CourierFake())
    configuration = {**box.configuration("courier"), "messages_lookback_days": "0"}
    _, state = run_update(courier, configuration)
    box.requests.clear()
    run_update(courier, configuration, state)
    asked = box.requests_to("courier", "/messages")[0].arg("enqueued_after")
    assert asked == str(state["message"]["watermark_ms"] - 1)


def test_without_start_date_the_first_sync_reads_all_messages(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    configuration = {**box.configuration("courier")}
    configuration.pop("start_date")
    recorder, _ = run_update(courier, configuration)
    assert box.requests_to("courier", "/messages")[0].arg("enqueued_after") is None
    assert synced_ids(recorder, "message") == source_ids(fake, "message")


def test_a_persistent_failure_mid_walk_resumes_at_the_failed_page_with_no_row_read_twice(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    configuration = box.configuration("courier")
    box.faults.add("courier", "/messages", "status", nth=4, times=None, status=500)
    with pytest.raises(HttpError, match="HTTP 500"):
        run_update(courier, configuration, recorder=(first := _recorder()))
    state = first.checkpoints[-1]
    assert state["message"]["walk"]["page_token"] == "messages:30:a+b/c="  # pages 1-3 delivered, page 4 failed
    assert "watermark_ms" not in state["message"]  # the watermark never moves mid-walk
    box.faults.clear()
    box.requests.clear()
    second, final_state = run_update(courier, configuration, state)
    asked = [r.arg("cursor") for r in box.requests_to("courier", "/messages")]
    assert asked[0] == "messages:30:a+b/c="  # resumed at the failed page
    assert {r.arg("enqueued_after") for r in box.requests_to("courier", "/messages")} == {"1735689600000"}
    committed = [row["id"] for row in _committed_upserts(first, "message")]
    resumed = [row["id"] for row in second.upserts("message")]
    assert sorted(committed + resumed) == sorted(source_ids(fake, "message"))  # every row, none twice
    assert final_state["message"] == {"watermark_ms": max(m["enqueued"] for m in fake.tables["messages"])}


def test_a_long_walk_checkpoints_its_page_cursor_at_the_cadence(courier, sandbox, sleeps, monkeypatch):
    """What a crash (no chance to checkpoint on the way out) falls back to: the last cadence checkpoint."""
    monkeypatch.setattr(courier, "__CHECKPOINT_EVERY_ROWS", 20)
    fake = CourierFake()
    box = sandbox(fake)
    recorder, final_state = run_update(courier, box.configuration("courier"))
    tokens = [c["message"]["walk"]["page_token"] for c in recorder.checkpoints if "walk" in c.get("message", {})]
    assert tokens == [f"messages:{n}:a+b/c=" for n in (20, 40, 60, 80)]
    assert all("watermark_ms" not in c.get("message", {}) for c in recorder.checkpoints[:-1])
    assert final_state["message"] == {"watermark_ms": max(m["enqueued"] for m in fake.tables["messages"])}


def test_a_slow_walk_also_checkpoints_on_the_clock(courier, sandbox, sleeps, monkeypatch):
    from functools import partial

    monkeypatch.setattr(courier, "TableProgress", partial(courier.TableProgress, every_seconds=0))
    box = sandbox(CourierFake())
    recorder, _ = run_update(courier, box.configuration("courier"))
    tokens = [c["message"]["walk"]["page_token"] for c in recorder.checkpoints if "walk" in c.get("message", {})]
    assert tokens == [f"messages:{n}:a+b/c=" for n in range(10, 100, 10)]  # overdue after every page


def test_a_refused_saved_cursor_restarts_the_walk_from_its_lower_bound(courier, sandbox, sleeps, log, monkeypatch):
    fake = CourierFake()
    box = sandbox(fake)
    monkeypatch.setattr(courier, "log", log)
    walk = {"enqueued_after": 1, "page_token": "expired-cursor", "max_enqueued": 5, "saved_at_s": int(time.time())}
    recorder, final_state = run_update(courier, box.configuration("courier"), {"message": {"walk": walk}})
    asked = box.requests_to("courier", "/messages")
    assert asked[0].arg("cursor") == "expired-cursor" and asked[1].arg("cursor") is None
    assert {r.arg("enqueued_after") for r in asked} == {"1"}
    assert synced_ids(recorder, "message") == source_ids(fake, "message")
    assert "refused (HTTP 400); restarting the walk" in log.text()
    assert final_state["message"]["watermark_ms"] == max(m["enqueued"] for m in fake.tables["messages"])


@pytest.mark.parametrize("walk", [{}, {"enqueued_after": 1, "max_enqueued": 5, "saved_at_s": 0}])
@responses.activate
def test_a_saved_walk_edited_down_to_no_page_cursor_starts_a_new_walk_from_the_watermark(courier, sleeps, walk):
    """A state edited by hand (its walk emptied, or its page_token deleted) re-reads; it does not crash."""
    empty_full_scans()
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": 9_000}], "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": str(7_000 - 3 * DAY_MS)})])
    recorder, state = run_update(courier, {"api_key": "k" * 12}, {"message": {"watermark_ms": 7_000, "walk": walk}})
    assert synced_ids(recorder, "message") == {"m1"} and state["message"] == {"watermark_ms": 9_000}


@responses.activate
def test_a_saved_cursor_answered_with_an_empty_end_of_list_restarts_the_walk(courier, sleeps, log, monkeypatch):
    """How Courier answers an expired cursor is undocumented: an empty last page must not end the walk (the
    watermark would move past every message of the pages never read)."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    responses.get(f"{HOST}/messages", json={"results": [], "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": "1", "cursor": "stale"})])
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": 9}, {"id": "m2", "enqueued": 8}],
                                            "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": "1"})])
    walk = {"enqueued_after": 1, "page_token": "stale", "max_enqueued": 5, "saved_at_s": int(time.time())}
    recorder, state = run_update(courier, {"api_key": "k" * 12}, {"message": {"walk": walk}})
    assert synced_ids(recorder, "message") == {"m1", "m2"}
    assert state["message"] == {"watermark_ms": 9}
    assert "led to an empty end of the list; restarting the walk" in log.text()


def test_a_cursor_saved_too_long_ago_is_not_used(courier, sandbox, sleeps, log, monkeypatch):
    fake = CourierFake()
    box = sandbox(fake)
    monkeypatch.setattr(courier, "log", log)
    stale = int(time.time()) - 25 * 3600
    walk = {"enqueued_after": 7, "page_token": "messages:30:a+b/c=", "max_enqueued": None, "saved_at_s": stale}
    recorder, _ = run_update(courier, box.configuration("courier"), {"message": {"walk": walk}})
    first = box.requests_to("courier", "/messages")[0]
    assert first.arg("cursor") is None and first.arg("enqueued_after") == "1735689600000"  # a new walk
    assert "too old to trust" in log.text()
    assert synced_ids(recorder, "message") == source_ids(fake, "message")


def test_deleted_rows_are_marked_deleted_by_the_next_full_scan(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    configuration = box.configuration("courier")
    first, state = run_update(courier, configuration)
    fake.control_mutate("brands", delete=["BRAND0003", "BRAND0021"], update=["BRAND0004"], insert=2)
    second, _ = run_update(courier, configuration, state)
    replay = first
    replay.operations.extend(second.operations)
    live = replay.table("brand", ["id"])
    assert ("BRAND0003",) not in live and ("BRAND0021",) not in live
    assert {k[0] for k in live} == source_ids(fake, "brand")
    assert live[("BRAND0004",)]["name"] == "Brand 4 (edited)"


def test_a_failed_scan_commits_nothing_so_no_live_row_is_marked_deleted(courier, sandbox, sleeps):
    """The truncate that opens a scan is committed only by the checkpoint after its last page."""
    box = sandbox(CourierFake())
    configuration = box.configuration("courier")
    _, state = run_update(courier, configuration)
    box.faults.add("courier", "/brands", "status", nth=2, times=None, status=503)
    failed = _recorder()
    with pytest.raises(HttpError):
        run_update(courier, configuration, state, recorder=failed)
    kinds = [kind for kind, table, _ in failed.operations if table == "brand" or kind == "checkpoint"]
    assert kinds[0] == "truncate" and "checkpoint" not in kinds  # the truncate is never committed


def test_a_page_without_its_envelope_key_fails_the_sync(courier, sandbox, sleeps):
    fake = CourierFake()
    fake.missing_envelope.add("audit-events")
    box = sandbox(fake)
    with pytest.raises(PayloadError, match="lacks 'results'"):
        run_update(courier, box.configuration("courier"))


@pytest.mark.parametrize("route, missing", [
    ("tenants", "'items'"), ("lists", "'items' or 'results'"), ("audiences", "'items'"), ("messages", "'results'"),
])
def test_every_envelope_without_its_records_key_fails_the_sync(courier, sandbox, sleeps, route, missing):
    fake = CourierFake(counts={"tenants": 150})
    fake.missing_envelope.add(route)
    box = sandbox(fake)
    with pytest.raises(PayloadError, match=f"/{route} lacks {missing}"):
        run_update(courier, box.configuration("courier"))


@pytest.mark.parametrize("records, what", [({"id": "b"}, "a dict"), ({}, "a dict"), (None, "null"), ("", "a str")])
@responses.activate
def test_records_that_are_not_a_list_fail_the_sync_before_the_truncate_is_committed(courier, sleeps, records, what):
    """``"results": null`` read as zero rows would mark every brand deleted at the checkpoint."""
    responses.get(f"{HOST}/brands", json={"results": records, "paging": {"more": False}})
    failed = _recorder()
    with pytest.raises(PayloadError, match=f"/brands: 'results' is {what}, not a list"):
        run_update(courier, {"api_key": "k" * 12}, recorder=failed)
    assert failed.checkpoints == []


@pytest.mark.parametrize("cursor", [{}, {"cursor": None}, {"cursor": ""}])
@responses.activate
def test_more_without_a_cursor_ends_the_list_after_that_page(courier, sleeps, log, monkeypatch, cursor):
    """The documented stop rule of paging.{more, cursor} (a null or missing cursor ends the list): the page is
    delivered, nothing loops."""
    monkeypatch.setattr(courier, "log", log)
    responses.get(f"{HOST}/brands", json={"results": [{"id": "b1"}], "paging": {"more": True, **cursor}})
    for path in ("audiences", "lists"):
        responses.get(f"{HOST}/{path}", json={"items": [{"id": f"{path}-1"}], "paging": {"more": True}})
    for path in ("audit-events", "notifications", "messages"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "t1"}], "has_more": False})
    recorder, _ = run_update(courier, {"api_key": "k" * 12})
    assert [row["id"] for row in recorder.upserts("brand")] == ["b1"]
    assert [row["id"] for row in recorder.upserts("list")] == ["lists-1"]
    assert len(responses.calls) == 7, "one request per endpoint"
    assert "without a cursor: stopping after this page" in log.text()


@pytest.mark.parametrize("cursor", [{}, {"cursor": None, "next_url": None}, {"cursor": "", "next_url": "/tenants"}])
@responses.activate
def test_tenants_with_has_more_but_no_cursor_fail_before_their_truncate_is_committed(courier, sleeps, cursor):
    """/tenants documents its cursor as present whenever has_more is true, and no null cursor as the end: ending
    the scan there would mark the tenants of the pages not read deleted."""
    for path in ("brands", "audit-events", "notifications", "messages"):
        responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        responses.get(f"{HOST}/{path}", json={"items": [], "paging": {"more": False}})
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "t1"}], "has_more": True, **cursor})
    failed = Recorder()
    with pytest.raises(PaginationError, match="has_more=true without a cursor"):
        run_update(courier, {"api_key": "k" * 12}, recorder=failed)
    truncate_at = failed.operations.index(("truncate", "tenant", None))
    assert not any(kind == "checkpoint" for kind, _, _ in failed.operations[truncate_at:])


@responses.activate
def test_the_real_host_is_the_default(courier, sleeps):
    responses.get("https://api.courier.com/brands", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        responses.get(f"https://api.courier.com/{path}", json={"items": [], "paging": {"more": False}})
    for path in ("audit-events", "notifications", "messages"):
        responses.get(f"https://api.courier.com/{path}", json={"results": [], "paging": {"more": False}})
    responses.get("https://api.courier.com/tenants", json={"items": [], "has_more": False})
    recorder, state = run_update(courier, {"api_key": "k" * 12})
    assert recorder.upserts("brand") == []
    assert all(c.request.headers["Authorization"] == "Bearer " + "k" * 12 for c in responses.calls)
    assert state == {"message": {"watermark_ms": None}}


@pytest.mark.parametrize("status", [401, 403])
def test_authentication_failures_are_clear_and_not_retried(courier, sandbox, sleeps, status):
    box = sandbox(CourierFake())
    box.faults.add("courier", "/", "status", status=status)
    with pytest.raises(HttpError, match="rejected the API key") as error:
        run_update(courier, box.configuration("courier"))
    assert error.value.status == status
    assert len(box.requests_to("courier")) == 1
    assert sleeps == []


def test_a_wrong_api_key_gets_the_documented_403(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    configuration = {**box.configuration("courier"), "api_key": "wrong-key-000"}
    with pytest.raises(HttpError, match="HTTP 403.*workspace environment"):
        run_update(courier, configuration)


@pytest.mark.parametrize("fault, options", [
    ("status", {"status": 429, "retry_after": "2"}),
    ("status", {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}),
    ("slow", {"delay_s": 1.5}), ("reset", {}), ("truncate", {}),
])
@pytest.mark.parametrize("route", ["/brands", "/messages", "/tenants", "/lists"])
def test_transient_faults_on_every_route_still_deliver_every_row(courier, sandbox, sleeps, fault, options, route):
    fake = CourierFake()
    box = sandbox(fake)
    injected = box.faults.add("courier", route, fault, nth=1 if route == "/tenants" else 2, **options)
    recorder, _ = run_update(courier, box.configuration("courier"))
    assert injected.fired == 1
    for table in KEYS:
        assert synced_ids(recorder, table) == source_ids(fake, table), table
    if options.get("retry_after") == "2":
        assert 2.0 in sleeps


def test_malformed_json_fails_the_sync_and_advances_nothing(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    box.faults.add("courier", "/messages", "malformed", nth=3)
    failed = _recorder()
    with pytest.raises(PayloadError, match="not JSON"):
        run_update(courier, box.configuration("courier"), recorder=failed)
    assert all("watermark_ms" not in checkpoint.get("message", {}) for checkpoint in failed.checkpoints)
    assert failed.checkpoints[-1]["message"]["walk"]["page_token"] == "messages:20:a+b/c="  # the broken page


def test_persistent_network_failure_fails_with_a_clear_message(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    box.faults.add("courier", "/audiences", "reset", times=None)
    with pytest.raises(TransportError, match="GET .*/audiences failed after 5 attempts"):
        run_update(courier, box.configuration("courier"))


@pytest.mark.parametrize("key, value, message", [
    ("api_key", "<YOUR_COURIER_API_KEY>", "'api_key' still holds the template placeholder"),
    ("api_key", "", "'api_key' is required"),
    ("start_date", "2025-13-01", "'start_date': expected a date as YYYY-MM-DD"),
    ("start_date", "2999-01-01", r"'start_date': expected a day no later than today \(\d{4}-\d\d-\d\d, UTC\), "
                                 "got '2999-01-01'"),
    ("messages_lookback_days", "-1", "'messages_lookback_days': expected an integer from 0 to 365"),
    ("base_url", "api.courier.com", "'base_url': expected an http"),
])
def test_bad_configuration_names_the_key(courier, key, value, message):
    configuration = {"api_key": "k" * 12, key: value}
    with pytest.raises(ConfigError, match=message):
        courier.validate_configuration(configuration)


def test_the_shipped_template_is_rejected(courier):
    import json

    from tests.harness import ROOT

    template = json.loads((ROOT / "courier" / "configuration.json").read_text())
    with pytest.raises(ConfigError, match="placeholder"):
        courier.validate_configuration(template)


def test_a_canary_key_never_appears_in_output_or_errors(courier, sandbox, sleeps, capsys, monkeypatch, log):
    canary = "CANARY-courier-7f3a9c"
    monkeypatch.setattr(courier, "log", log)
    box = sandbox(CourierFake(api_key=canary))
    configuration = box.configuration("courier")
    box.faults.add("courier", "/brands", "status", status=500)
    box.faults.add("courier", "/messages", "reset", nth=2)
    run_update(courier, configuration)
    box.faults.add("courier", "/lists", "status", status=400, times=None)
    with pytest.raises(HttpError) as error:
        run_update(courier, configuration)
    captured = capsys.readouterr()
    assert canary not in str(error.value) + captured.out + captured.err + log.text()
    assert "retry" in log.text()


def test_progress_logs_count_pages_and_close_every_table_with_its_rows(courier, sandbox, sleeps, log, monkeypatch):
    from functools import partial

    monkeypatch.setattr(courier, "log", log)
    monkeypatch.setattr(courier, "TableProgress", partial(courier.TableProgress, log_every_seconds=0))
    fake = CourierFake()
    box = sandbox(fake)
    run_update(courier, box.configuration("courier"))
    text = log.text()
    for table in KEYS:
        rows = len(fake.tables[ROUTES[table]])
        assert f"{table}: {rows} rows delivered from" in text, table
    assert "message: 50 rows so far from 5 pages" in text
    assert "message: reading messages enqueued after 2025-01-01T00:00:00.000000Z" in text
    assert "watermark 2026-05-31T23:30:00.000000Z" in text
    assert all(level in ("INFO", "WARNING") for level, _ in log.lines)


def test_setup_test_success_and_each_failure(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    good = box.configuration("courier")
    assert courier.test_connection(good).success is True

    bad_key = courier.test_connection({**good, "api_key": "not-the-key"})
    assert "refused the credentials" in bad_key.failure and "not-the-key" not in bad_key.failure

    unreachable = courier.test_connection({**good, "base_url": "http://127.0.0.1:9"})
    assert "Could not reach Courier" in unreachable.failure and "'base_url'" in unreachable.failure
    assert "after 2 attempts" in unreachable.failure  # a person is waiting: one retry only

    bad_value = courier.test_connection({**good, "messages_lookback_days": "x"})
    assert "'messages_lookback_days': expected an integer from 0 to 365" in bad_value.failure

    wrong_path = courier.test_connection({**good, "base_url": box.url("courier") + "/v9"})
    assert "HTTP 404" in wrong_path.failure

    placeholder = courier.test_connection({"api_key": "<YOUR_COURIER_API_KEY>"})
    assert "placeholder" in placeholder.failure


@responses.activate
def test_setup_test_reports_an_answer_without_the_documented_envelope(courier, sleeps):
    responses.get(f"{HOST}/brands", json={"data": []})
    result = courier.test_connection({"api_key": "k" * 12})
    assert "not in the documented format" in result.failure and "'base_url'" in result.failure
    assert "k" * 12 not in result.failure


def test_the_form_lists_every_configuration_key(courier):
    form = courier.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    assert set(fields) == {"api_key", "base_url", "start_date", "messages_lookback_days"}
    assert fields["api_key"].required and fields["api_key"].text_field == 1  # password
    assert all(f.description and f.label and f.placeholder for f in form.fields)
    assert [t.name for t in form.tests] == ["test_connection"]


@pytest.mark.e2e
def test_local_runner_failed_scan_marks_nothing_deleted_and_next_sync_converges(tmp_path, monkeypatch, sandbox):
    """Through the SDK's own runner: a scan that fails mid-way leaves every live row live."""
    fake = CourierFake()
    box = sandbox(fake)
    runner = LocalRunner("courier", tmp_path, monkeypatch)
    configuration = box.configuration("courier")
    assert runner.sync(configuration)
    assert len(runner.rows("brand")) == 25
    box.faults.add("courier", "/brands", "status", nth=2, times=None, status=400)
    assert not runner.sync(configuration)
    assert len(runner.rows("brand")) == 25  # nothing marked deleted by the failed scan
    box.faults.clear()
    fake.control_mutate("brands", delete=["BRAND0002"])
    assert runner.sync(configuration)
    live = {row["id"] for row in runner.rows("brand")}
    assert live == source_ids(fake, "brand")
    deleted = {row["id"] for row in runner.rows("brand", live_only=False) if row["_fivetran_deleted"]}
    assert deleted == {"BRAND0002"}
    assert {row["audit_event_id"] for row in runner.rows("audit_event")} == source_ids(fake, "audit_event")
    message = runner.rows("message")[0]
    assert message["enqueued"].endswith("+00")  # TIMESTAMPTZ in UTC


@pytest.mark.e2e
def test_local_runner_lands_documented_text_as_text_and_types_other_columns_by_value(tmp_path, monkeypatch, sandbox):
    """Through the SDK's own runner into DuckDB: a declared STRING column keeps "True" and "1.50" as written,
    while a column schema() does not declare is typed from its values (the SDK sends every str untyped)."""
    fake = CourierFake(counts={"brands": 1, "messages": 1, "tenants": 0})
    fake.tables["brands"][0].update(name="True", nickname="True", score="1.50", rank="5")  # the last 3 undeclared
    fake.tables["messages"][0]["recipient"] = "1.50"
    box = sandbox(fake)
    runner = LocalRunner("courier", tmp_path, monkeypatch)
    assert runner.sync(box.configuration("courier"))
    assert column_types(runner, "brand", "name", "nickname", "score", "rank") == {
        "name": "VARCHAR", "nickname": "BOOLEAN", "score": "DOUBLE", "rank": "BIGINT"}
    assert column_types(runner, "message", "recipient") == {"recipient": "VARCHAR"}
    assert runner.query("select name, nickname, score from tester.brand") == [("True", True, 1.5)]
    assert runner.query("select recipient from tester.message") == [("1.50",)]
    assert "tenant" in runner.tables() and runner.rows("tenant") == []  # typed keys: created though empty


@pytest.mark.e2e
def test_local_runner_never_creates_a_column_of_empty_strings_and_keeps_empty_text_apart_from_null(
        tmp_path, monkeypatch, sandbox):
    fake = CourierFake(counts={"brands": 3})
    for row, motto, rank in zip(fake.tables["brands"], ("x", "", None), ("5", "", None), strict=True):
        row.update(blank="", motto=motto, rank=rank)  # undeclared columns
    fake.tables["brands"][0]["version"], fake.tables["brands"][1]["version"] = "", None  # declared STRING
    box = sandbox(fake)
    runner = LocalRunner("courier", tmp_path, monkeypatch)
    assert runner.sync(box.configuration("courier"))
    types = column_types(runner, "brand", "blank", "motto", "rank", "version")
    assert types == {"motto": "VARCHAR", "rank": "BIGINT", "version": "VARCHAR"}  # no column "blank"
    rows = runner.query("select motto, rank, version from tester.brand order by id")
    assert rows == [("x", 5, ""), ("", None, None), (None, None, fake.tables["brands"][2]["version"])]


def column_types(runner: LocalRunner, table: str, *columns: str) -> dict:
    names = ", ".join(f"'{c}'" for c in columns)
    return dict(runner.query("select column_name, data_type from information_schema.columns where table_schema = "
                             f"'tester' and table_name = '{table}' and column_name in ({names})"))


def _recorder():
    from tests.harness import Recorder

    return Recorder()


def _committed_upserts(recorder, table):
    """Upserts up to the last checkpoint: what the destination keeps when the sync then fails."""
    last = max(i for i, (kind, _, _) in enumerate(recorder.operations) if kind == "checkpoint")
    return [data for kind, name, data in recorder.operations[:last] if kind == "upsert" and name == table]


@responses.activate
def test_a_saved_cursor_whose_page_is_the_last_one_with_rows_is_used_not_restarted(courier, sleeps, log,
                                                                                    monkeypatch):
    """README: "the next sync resumes at exactly that page, reading no row twice". A resumed cursor that leads to
    the walk's last page (rows, ``more: false``) is a normal end, not an expired cursor: it must not restart the
    walk from its lower bound (which re-reads every page of the walk)."""
    monkeypatch.setattr(courier, "log", log)
    empty_full_scans()
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m3", "enqueued": 7}], "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": "1", "cursor": "c3"})])
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": 9}, {"id": "m2", "enqueued": 8}],
                                            "paging": {"more": True, "cursor": "c2"}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": "1"})])
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m3", "enqueued": 7}], "paging": {"more": False}},
                  match=[responses.matchers.query_param_matcher({"enqueued_after": "1", "cursor": "c2"})])
    walk = {"enqueued_after": 1, "page_token": "c3", "max_enqueued": 9, "saved_at_s": int(time.time())}
    recorder, state = run_update(courier, {"api_key": "k" * 12}, {"message": {"walk": walk}})
    message_calls = [c for c in responses.calls if "/messages" in c.request.url]
    assert len(message_calls) == 1, [c.request.url for c in message_calls]
    assert [row["id"] for row in recorder.upserts("message")] == ["m3"]
    assert state["message"] == {"watermark_ms": 9}
    assert "restarting the walk" not in log.text()

