"""Courier connector against its sandbox fake (real HTTP on 127.0.0.1) and `responses` mocks."""

import pytest
import responses

from sandbox.courier import DAY_MS, CourierFake
from shared.config import ConfigError
from shared.http_client import HttpError, TransportError
from shared.parsing import PayloadError
from tests.harness import LocalRunner, load_connector, run_update

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


def test_schema_declares_every_table_key_and_types(courier):
    tables = {t["table"]: t for t in courier.schema({})}
    assert set(tables) == set(KEYS)
    for name, key in KEYS.items():
        assert tables[name]["primary_key"] == [key]
    assert tables["message"]["columns"]["enqueued"] == "UTC_DATETIME"
    assert tables["audit_event"]["columns"] == {"timestamp": "UTC_DATETIME", "target": "JSON"}
    assert tables["notification"]["columns"]["tags"] == "JSON"


def test_lists_answering_with_results_are_read_too(courier, sandbox, sleeps):
    fake = CourierFake(lists_key="results")
    box = sandbox(fake)
    recorder, _ = run_update(courier, box.configuration("courier"))
    assert synced_ids(recorder, "list") == source_ids(fake, "list")


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


def test_without_start_date_the_first_sync_reads_all_messages(courier, sandbox, sleeps):
    fake = CourierFake()
    box = sandbox(fake)
    configuration = {**box.configuration("courier")}
    configuration.pop("start_date")
    recorder, _ = run_update(courier, configuration)
    assert box.requests_to("courier", "/messages")[0].arg("enqueued_after") is None
    assert synced_ids(recorder, "message") == source_ids(fake, "message")


def test_a_broken_message_walk_resumes_from_its_saved_cursor_without_loss(courier, sandbox, sleeps, monkeypatch):
    monkeypatch.setattr(courier, "__CHECKPOINT_EVERY_ROWS", 20)
    fake = CourierFake()
    box = sandbox(fake)
    configuration = box.configuration("courier")
    box.faults.add("courier", "/messages", "status", nth=6, times=None, status=500)
    with pytest.raises(HttpError, match="HTTP 500"):
        run_update(courier, configuration, recorder=(first := _recorder()))
    state = first.checkpoints[-1]
    walk = state["message"]["walk"]
    assert walk["page_token"] == "messages:40:a+b/c="  # 5 pages read, checkpoint after page 4 (40 rows)
    assert "watermark_ms" not in state["message"]  # the watermark never moves mid-walk
    box.faults.clear()
    box.requests.clear()
    second, final_state = run_update(courier, configuration, state)
    asked = [r.arg("cursor") for r in box.requests_to("courier", "/messages")]
    assert asked[0] == "messages:40:a+b/c="  # resumed, pages 1-4 not read again
    committed = {row["id"] for row in _committed_upserts(first, "message")}
    assert committed | synced_ids(second, "message") == source_ids(fake, "message")
    assert final_state["message"] == {"watermark_ms": max(m["enqueued"] for m in fake.tables["messages"])}


def test_a_refused_saved_cursor_restarts_the_walk_from_its_lower_bound(courier, sandbox, sleeps, log, monkeypatch):
    fake = CourierFake()
    box = sandbox(fake)
    monkeypatch.setattr(courier, "log", log)
    state = {"message": {"walk": {"enqueued_after": 1, "page_token": "expired-cursor", "max_enqueued": 5}}}
    recorder, final_state = run_update(courier, box.configuration("courier"), state)
    assert synced_ids(recorder, "message") == source_ids(fake, "message")
    assert "restarting the walk" in log.text()
    assert final_state["message"]["watermark_ms"] == max(m["enqueued"] for m in fake.tables["messages"])


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


@responses.activate
def test_more_without_a_cursor_fails_instead_of_looping(courier, sleeps):
    responses.get("https://api.courier.com/brands", json={"results": [{"id": "b"}], "paging": {"more": True}})
    with pytest.raises(PayloadError, match="without a cursor"):
        run_update(courier, {"api_key": "k" * 12})


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
    assert all("message" not in checkpoint for checkpoint in failed.checkpoints)


def test_persistent_network_failure_fails_with_a_clear_message(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    box.faults.add("courier", "/audiences", "reset", times=None)
    with pytest.raises(TransportError, match="GET .*/audiences failed after 5 attempts"):
        run_update(courier, box.configuration("courier"))


@pytest.mark.parametrize("key, value, message", [
    ("api_key", "<YOUR_COURIER_API_KEY>", "'api_key' still holds the template placeholder"),
    ("api_key", "", "'api_key' is required"),
    ("start_date", "2025-13-01", "'start_date': expected a date as YYYY-MM-DD"),
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


def test_setup_test_success_and_each_failure(courier, sandbox, sleeps):
    box = sandbox(CourierFake())
    good = box.configuration("courier")
    assert courier.test_connection(good).success is True

    bad_key = courier.test_connection({**good, "api_key": "not-the-key"})
    assert "refused the credentials" in bad_key.failure and "not-the-key" not in bad_key.failure

    unreachable = courier.test_connection({**good, "base_url": "http://127.0.0.1:9"})
    assert "Could not reach Courier" in unreachable.failure and "'base_url'" in unreachable.failure

    wrong_path = courier.test_connection({**good, "base_url": box.url("courier") + "/v9"})
    assert "HTTP 404" in wrong_path.failure

    placeholder = courier.test_connection({"api_key": "<YOUR_COURIER_API_KEY>"})
    assert "placeholder" in placeholder.failure


def test_the_form_lists_every_configuration_key(courier):
    form = courier.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    assert set(fields) == {"api_key", "base_url", "start_date", "messages_lookback_days"}
    assert fields["api_key"].required and fields["api_key"].text_field == 1  # password
    assert all(f.description and f.label for f in form.fields)
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


def _recorder():
    from tests.harness import Recorder

    return Recorder()


def _committed_upserts(recorder, table):
    """Upserts up to the last checkpoint: what the destination keeps when the sync then fails."""
    last = max(i for i, (kind, _, _) in enumerate(recorder.operations) if kind == "checkpoint")
    return [data for kind, name, data in recorder.operations[:last] if kind == "upsert" and name == table]
