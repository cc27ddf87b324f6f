"""Tables, keys, types, explicit filters, incremental rules and resumption, against the AroFlo fake."""

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import responses

from shared import timestamps
from shared.http_client import HttpError
from shared.state import StateError
from tests.aroflo.conftest import SMALL, source_ids, synced
from tests.harness import Recorder, run_update

TABLES = ("users", "suppliers", "payments")


def wheres(box, zone: str) -> list[str]:
    return [request.arg("where") for request in box.requests_to("aroflo") if request.arg("zone") == zone]


def test_every_table_and_key_across_several_pages(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, state = run_update(aroflo, configuration)
    for table in TABLES:
        assert set(synced(recorder, table)) == source_ids(fake, table), table
        assert all(row["id"] for row in recorder.upserts(table))
    assert len(recorder.upserts("suppliers")) == SMALL["suppliers"]  # one walk: each row exactly once
    # users: two walks, but the created walk skips the users the updated walk already delivered
    assert len(recorder.upserts("users")) == SMALL["users"]
    never_updated = [row for row in fake.rows("users") if not (row.get("lastupdateddatetimeutc") or "").strip()]
    assert never_updated, "the fake should hold users that were never updated"
    assert len(recorder.upserts("payments")) == SMALL["payments"]
    pages = [(r.arg("zone"), r.arg("page")) for r in box.requests_to("aroflo")]
    assert pages.count(("payments", "5")) == 1 and ("payments", "6") not in pages  # 230 rows, 50 a page
    assert len(pages) == len({r.raw_query for r in box.requests_to("aroflo")})  # no page fetched twice
    assert set(state) == set(TABLES)
    assert f"AroFlo: {len(pages)} requests made, {2000 - len(pages)} left in today's budget" in aroflo.log.text()


def test_rows_keep_every_field_typed_flattened_and_normalized(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(aroflo, configuration)
    users = synced(recorder, "users")
    never_updated = users[fake.make_id("USR", 1)]
    assert never_updated["lastupdateddatetimeutc"] is None and never_updated["lastupdatedutc"] is None
    assert never_updated["updated_at"] is None
    updated = users[fake.make_id("USR", 3)]
    source = fake.row("users", 3)
    created = datetime.strptime(source["createddatetimeutc"], "%Y/%m/%d %H:%M:%S")
    assert updated["createddatetimeutc"] == created.strftime("%Y-%m-%dT%H:%M:%S.000000Z") == updated["created_at"]
    assert updated["lastupdateddatetimeutc"].endswith("Z")
    assert updated["updated_at"] == updated["lastupdateddatetimeutc"]
    assert updated["createdutc"] == created.date().isoformat()
    assert (updated["first_name"], updated["last_name"]) == (source["givennames"], source["surname"])
    assert updated["givennames"] == source["givennames"] and updated["userid"] == updated["id"]
    assert updated["role"] == source["position"] and updated["access_level"] == source["accesstype"]
    assert updated["org_orgid"] == source["org"]["orgid"]
    assert {type(row["archived"]) for row in users.values()} == {bool}
    assert users[fake.make_id("USR", 5)]["archived"] is True  # "TRUE" in the source

    suppliers = synced(recorder, "suppliers")
    supplier = suppliers[fake.make_id("SUP", 3)]
    raw = fake.row("suppliers", 3)
    assert supplier["datetimeinserted"] == raw["datetimeinserted"].replace(" ", "T") + "0000Z"  # .58 -> .580000
    assert supplier["name"] == raw["suppliername"] and supplier["city"] == raw["address"]["suburb"]
    assert supplier["address_postcode"] == raw["address"]["postcode"] and supplier["tax_id"] == raw["abn"]
    assert supplier["orgs"] == raw["orgs"]  # kept whole (a list here, {"org": {...}} elsewhere) as JSON
    assert supplier["postable"] is (raw["postable"].lower() == "true")

    payments = synced(recorder, "payments")
    payment = payments[fake.make_id("PAY", 7)]
    raw = fake.row("payments", 7)
    assert payment["amount"] == raw["amount"] and payment["surchargeamount"] == "0.0000"
    assert payment["datepaid"] == payment["payment_date"] == raw["datepaid"].replace("/", "-")
    assert payment["linkedto_linkedtotype"] == "invoice" and payment["receivedby_userid"]
    assert payment["payment_method"] == raw["paymentmethodname"] and payment["linkprocessed"] is False
    assert payments[fake.make_id("PAY", 3)]["datelinkprocessed"].endswith("T10:00:00.000000Z")


def test_schema_declares_keys_and_types(aroflo):
    tables = {entry["table"]: entry for entry in aroflo.schema({})}
    assert set(tables) == set(TABLES)
    assert all(entry["primary_key"] == ["id"] for entry in tables.values())
    users, suppliers, payments = (tables[t]["columns"] for t in TABLES)
    assert users["lastupdateddatetimeutc"] == users["updated_at"] == "UTC_DATETIME"
    assert users["createdutc"] == "NAIVE_DATE" and users["archived"] == "BOOLEAN"
    assert suppliers["datetimeinserted"] == "UTC_DATETIME" and suppliers["orgs"] == "JSON"
    assert suppliers["postable"] == "BOOLEAN"
    assert payments["amount"] == {"type": "DECIMAL", "precision": 18, "scale": 4}
    assert payments["payment_date"] == payments["datepaid"] == "NAIVE_DATE"


# Every text field shared/sources/aroflo.md documents per zone, named as the flattening makes them (``org.orgid``
# is ``org_orgid``); the seed's normalized copies of them; and nothing the contract leaves undocumented.
DOCUMENTED_TEXT = {
    "users": ("username", "givennames", "surname", "email", "email2", "phone", "mobile", "fax", "accesstype",
              "position", "org_orgid", "org_orgname", "first_name", "last_name", "role", "access_level"),
    "suppliers": ("suppliername", "firstname", "surname", "abn", "shortname", "phone", "mobile", "fax", "email",
                  "website", "suppliertype", "terms", "termsnote", "address_addressline1", "address_addressline2",
                  "address_suburb", "address_state", "address_postcode", "address_country", "link_orgid",
                  "link_orgname", "link_externalid", "name", "address", "city", "state", "country", "payment_terms",
                  "tax_id"),
    "payments": ("paymentmethodname", "reference", "notes", "chequenumber", "bankname", "bankaccountnumber",
                 "bankbranch", "bankcode", "linkedto_linkedtoid", "linkedto_linkedtotype", "receivedby_userid",
                 "receivedby_username", "payment_method", "reference_number"),
}


TYPED = {  # their <field>_raw holds the source's text of a value that does not parse
    "users": ("createddatetimeutc", "lastupdateddatetimeutc", "createdutc", "lastupdatedutc", "archived"),
    "suppliers": ("datetimeinserted", "datecreated", "dateinserted", "postable", "archived"),
    "payments": ("datelinkprocessed", "datepaid", "linkprocessed", "amount", "totalamount", "surchargeamount",
                 "surchargepercentage"),
}


def test_schema_declares_every_documented_text_field_as_text(aroflo):
    """Undeclared, a column is typed by the destination from its values: "T" lands as a boolean, "0800" as 800."""
    tables = {entry["table"]: entry["columns"] for entry in aroflo.schema({})}
    for table in TABLES:
        columns, text = tables[table], (*DOCUMENTED_TEXT[table], *(f"{name}_raw" for name in TYPED[table]))
        assert {name: columns.get(name) for name in text} == dict.fromkeys(text, "STRING"), table
    assert tables["suppliers"]["datetimeinserted"] == "UTC_DATETIME" and tables["suppliers"]["orgs"] == "JSON"
    assert tables["payments"]["amount"] == {"type": "DECIMAL", "precision": 18, "scale": 4}
    # the contract gives no field list for these ({…}), so they are not declared
    assert not [name for name in tables["suppliers"] if name.startswith(("mailingaddress", "transactionterms"))]


def test_every_request_sends_an_explicit_where_sorted_ascending(aroflo, fake_box):
    fake, box, configuration = fake_box()
    run_update(aroflo, configuration)
    for request in box.requests_to("aroflo"):
        assert request.method == "GET"
        assert len(request.query["where"]) == 1 and request.arg("where").startswith("and|")
        cursor_field = request.arg("where").split("|")[1]
        assert request.query["order"][0] == f"{cursor_field}|asc"
        assert request.arg("pageSize") == "50"
    assert wheres(box, "users")[0] == "and|lastupdateddatetimeutc|>|2001-01-01 00:00:00"
    assert wheres(box, "users")[1] == "and|createddatetimeutc|>|2001-01-01 00:00:00"
    assert wheres(box, "suppliers")[0] == "and|datetimeinserted|>|2001-01-01 00:00:00"
    assert wheres(box, "payments")[0] == "and|datepaid|>|2000-12-31"  # initial_sync_days 0: everything


@responses.activate
def test_the_default_filter_warning_is_treated_as_a_bug(aroflo, vtime):
    responses.get("https://api.aroflo.com/", json={
        "status": "0", "statusmessage": "Login OK. No WHERE clause found, default filter applied.",
        "zoneresponse": {"users": [], "currentpageresults": 0, "maxpageresults": "500"}})
    with pytest.raises(Exception, match="30-day default filter.*bug"):
        run_update(aroflo, {"uencoded": "u1234", "pencoded": "p1234", "orgencoded": "o1234", "secret_key": "k1234"})
    assert responses.calls[0].request.url.startswith("https://api.aroflo.com/?zone=users&where=")


@pytest.mark.parametrize("empty", ["", {}])
@responses.activate
def test_an_empty_page_written_as_an_empty_string_or_object_is_zero_rows(aroflo, vtime, empty):
    """XML-to-JSON conversions write an empty <users/> as "" or {}; a {} read as one row failed 'has no userid'."""
    responses.get("https://api.aroflo.com/", json={
        "status": "0", "statusmessage": "Login OK",
        "zoneresponse": {"users": empty, "currentpageresults": "0", "maxpageresults": "500"}})
    recorder, state = run_update(aroflo, {"uencoded": "u1234", "pencoded": "p1234", "orgencoded": "o1234",
                                          "secret_key": "k1234", "enable_suppliers_sync": "false",
                                          "enable_payments_sync": "false"})
    assert recorder.upserts("users") == []
    assert {call.request.params["zone"] for call in responses.calls} == {"users"}
    assert "users" in state


def test_the_next_sync_asks_from_each_cursor_minus_its_lookback(aroflo, fake_box, vtime):
    fake, box, configuration = fake_box()
    _, state = run_update(aroflo, configuration)
    vtime.now += 60  # a new sync has a new rate limiter: let the fake's per-second window pass
    users, suppliers, payments = state["users"], state["suppliers"], state["payments"]
    assert users["updated_cursor"] == max(filter(None, (utc_text(r["lastupdateddatetimeutc"])
                                                        for r in fake.rows("users"))))
    box.requests.clear()
    run_update(aroflo, configuration, state)

    def minus(cursor: str, delta: timedelta) -> str:
        return (datetime.fromisoformat(cursor.replace("Z", "+00:00")) - delta).strftime("%Y-%m-%d %H:%M:%S")

    assert wheres(box, "users") == [
        f"and|lastupdateddatetimeutc|>|{minus(users['updated_cursor'], timedelta(hours=1))}",
        f"and|createddatetimeutc|>|{minus(users['created_cursor'], timedelta(hours=1))}"]
    assert wheres(box, "suppliers") == [f"and|datetimeinserted|>|{minus(suppliers['cursor'], timedelta(hours=1))}"]
    (feed,) = [r for r in box.requests_to("aroflo") if r.arg("zone") == "lastupdate"]
    assert feed.query["where"] == ["and|zonename|=|suppliers",
                                   f"and|lastupdateutc|>|{minus(suppliers['changes_cursor'], timedelta(hours=1))}"]
    assert feed.query["order"] == ["lastupdateutc|asc"]
    cursor_day = date.fromisoformat(payments["cursor"])
    assert wheres(box, "payments") == [f"and|datepaid|>|{cursor_day - timedelta(days=8)}"]  # 7-day lookback
    assert len(box.requests_to("aroflo")) == 5  # nothing changed: one page per walk, one of the change feed


def utc_text(value):
    from tests.aroflo.test_aroflo_signing import api_module

    return api_module().utc_text(value)


def test_inserts_and_updates_arrive_with_the_next_sync(aroflo, fake_box):
    fake, box, configuration = fake_box()
    first, state = run_update(aroflo, configuration)
    edited_user, new_users = fake.make_id("USR", 4), fake.control_insert("users", 2)["inserted"]
    fake.control_update("users", [edited_user])
    new_supplier = fake.control_insert("suppliers", 1)["inserted"][0]
    new_payment = fake.control_insert("payments", 1)["inserted"][0]
    second, _ = run_update(aroflo, configuration, state)
    users = synced(second, "users")
    assert set(new_users) | {edited_user} <= set(users)
    assert users[edited_user]["last_name"].endswith("(edited)")
    assert users[new_users[0]]["lastupdateddatetimeutc"] is None  # found by the created walk
    assert new_supplier in synced(second, "suppliers") and new_payment in synced(second, "payments")
    replay = Recorder()
    replay.operations = first.operations + second.operations
    for table in TABLES:
        assert set(synced(replay, table)) == source_ids(fake, table)


def test_supplier_edits_arrive_with_the_periodic_full_rescan(aroflo, fake_box):
    fake, box, configuration = fake_box()
    _, state = run_update(aroflo, configuration)
    assert state["suppliers"]["full_scan_completed_at"] and "full_scan" not in state["suppliers"]
    old = fake.make_id("SUP", 2)
    third, state = _edit_then_sync_until_the_rescan(aroflo, fake, box, configuration, state, "suppliers", old)
    assert synced(third, "suppliers")[old]["name"].endswith("(edited)")
    assert wheres(box, "suppliers")[0] == "and|datetimeinserted|>|2001-01-01 00:00:00"


def test_supplier_edits_arrive_with_the_next_sync_through_the_lastupdate_zone(aroflo, fake_box, vtime):
    """Contract 4: suppliers' changes come from the LastUpdate zone (zonename=suppliers), free of the daily limit;
    the changed suppliers are read again by id, fewer to a request than a page holds (49 at 50 a page)."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false", "enable_payments_sync": "false"}
    _, state = run_update(aroflo, configuration)
    assert state["suppliers"]["changes_cursor"] == state["suppliers"]["full_scan_completed_at"]
    edited = [fake.make_id("SUP", n) for n in range(1, 106)]
    fake.control_update("suppliers", edited)
    vtime.now += 60
    box.requests.clear()
    second, state2 = run_update(aroflo, configuration, state)
    rows = synced(second, "suppliers")
    assert set(edited) <= set(rows) and all(rows[i]["name"].endswith("(edited)") for i in edited)
    feed = [r for r in box.requests_to("aroflo") if r.arg("zone") == "lastupdate"]
    assert len(feed) == 1 and feed[0].query["where"][0] == "and|zonename|=|suppliers"
    fetches = [w for w in wheres(box, "suppliers") if "|IN|" in w]
    assert [len(w.split("|IN|")[1].split("*")) for w in fetches] == [49, 49, 7]
    assert wheres(box, "suppliers")[0].startswith("and|datetimeinserted|>|")  # no full re-scan
    listed = max(utc_text(c["lastupdateutc"]) for c in fake.changes)  # never behind where the cursor was
    assert state2["suppliers"]["changes_cursor"] == max(listed, state["suppliers"]["changes_cursor"])


def test_a_change_feed_whose_requests_keep_failing_is_skipped_and_the_sync_ends_well(aroflo, fake_box, vtime,
                                                                                    monkeypatch):
    """The walks before the feed have delivered their rows; the feed only hastens edits the re-scan also brings."""
    from shared.http_client import TransportError

    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false", "enable_payments_sync": "false"}
    _, state = run_update(aroflo, configuration)
    pages = aroflo.aroflo_api.ZoneApi.pages

    def feed_down(api, zone, *args, **kwargs):
        if zone == "lastupdate":
            raise TransportError("AroFlo zone=lastupdate page 1: connection reset (after 4 attempts)", True)
        return pages(api, zone, *args, **kwargs)

    monkeypatch.setattr(aroflo.aroflo_api.ZoneApi, "pages", feed_down)
    new_supplier = fake.control_insert("suppliers", 1)["inserted"][0]
    vtime.now += 60
    second, state2 = run_update(aroflo, configuration, state)
    assert new_supplier in synced(second, "suppliers")
    assert state2["suppliers"]["changes_cursor"] == state["suppliers"]["changes_cursor"]
    assert any(level == "WARNING" and "change feed is skipped this sync (AroFlo zone=lastupdate page 1: connection "
               "reset" in line for level, line in aroflo.log.lines)


def test_a_state_from_before_the_change_feed_starts_it_at_the_last_full_rescan(aroflo, fake_box, vtime):
    """Not from 2001: that would read every supplier ever changed again, against the daily limit."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false", "enable_payments_sync": "false"}
    _, state = run_update(aroflo, configuration)
    scanned_at = state["suppliers"].pop("changes_cursor")
    vtime.now += 60
    box.requests.clear()
    _, state2 = run_update(aroflo, configuration, state)
    (feed,) = [r for r in box.requests_to("aroflo") if r.arg("zone") == "lastupdate"]
    since = datetime.fromisoformat(scanned_at.replace("Z", "+00:00")) - timedelta(hours=1)
    assert feed.query["where"][1] == f"and|lastupdateutc|>|{since:%Y-%m-%d %H:%M:%S}"
    assert state2["suppliers"]["changes_cursor"] == scanned_at


def test_a_refused_change_feed_is_skipped_with_a_warning_and_read_again_next_sync(aroflo, fake_box, vtime):
    """The zonename filter is not documented in full: an error status there must not fail the sync, nor move the
    feed's cursor past suppliers not delivered."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false", "enable_payments_sync": "false"}
    _, state = run_update(aroflo, configuration)
    edited = fake.make_id("SUP", 3)
    fake.control_update("suppliers", [edited])
    fake.control_trigger("99", zone="suppliers", nth=2, message="unknown WHERE field")  # the fetch by id
    vtime.now += 60
    second, state2 = run_update(aroflo, configuration, state)
    assert edited not in synced(second, "suppliers")
    assert state2["suppliers"]["changes_cursor"] == state["suppliers"]["changes_cursor"]
    assert any(level == "WARNING" and "the LastUpdate change feed is skipped this sync" in line
               and "unknown WHERE field" in line for level, line in aroflo.log.lines)
    vtime.now += 60
    third, _ = run_update(aroflo, configuration, state2)
    assert synced(third, "suppliers")[edited]["name"].endswith("(edited)")


def _edit_then_sync_until_the_rescan(aroflo, fake, box, configuration, state, table, row_id):
    """Edit one row, unlisted in the LastUpdate zone: the next sync misses it; the one after, with the re-scan due,
    returns (recorder, state)."""
    fake.control_update(table, [row_id])
    fake.changes.clear()  # the change feed's coverage of a zone is not documented: the re-scan must not rely on it
    second, state = run_update(aroflo, configuration, state)
    assert row_id not in synced(second, table)  # no last-modified field: not seen until the re-scan
    state[table]["full_scan_completed_at"] = "2020-01-01T00:00:00.000000Z"  # 7 days have passed
    box.requests.clear()
    third, state = run_update(aroflo, configuration, state)
    assert state[table]["full_scan_completed_at"] > "2020-01-02"
    return third, state


def test_a_full_rescan_saved_as_done_in_the_future_is_due_now(aroflo, fake_box):
    """A completion time after now comes from a clock that ran ahead: waiting for it would put off the re-scan."""
    fake, box, configuration = fake_box()
    _, state = run_update(aroflo, configuration)
    old = fake.make_id("SUP", 2)
    fake.control_update("suppliers", [old])
    state["suppliers"]["full_scan_completed_at"] = "2099-01-01T00:00:00.000000Z"
    box.requests.clear()
    second, state = run_update(aroflo, configuration, state)
    assert synced(second, "suppliers")[old]["name"].endswith("(edited)")
    assert wheres(box, "suppliers")[0] == "and|datetimeinserted|>|2001-01-01 00:00:00"
    assert state["suppliers"]["full_scan_completed_at"] < "2099"
    assert any(level == "WARNING" and "suppliers full_scan_completed_at 2099-01-01T00:00:00+00:00 is after" in line
               for level, line in aroflo.log.lines)


def test_payment_edits_arrive_with_the_periodic_full_rescan_from_the_first_day(aroflo, fake_box):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "initial_sync_days": "400"}  # the fake's payments span a year
    _, state = run_update(aroflo, configuration)
    first_day = state["payments"]["first_day"]
    assert first_day == (datetime.now(timezone.utc).date() - timedelta(days=400)).isoformat()
    old = min(fake.rows("payments"), key=lambda row: row["datepaid"])["paymentid"]  # far outside the lookback
    third, state = _edit_then_sync_until_the_rescan(aroflo, fake, box, configuration, state, "payments", old)
    assert synced(third, "payments")[old]["notes"] == "edited"
    assert set(synced(third, "payments")) == source_ids(fake, "payments")
    assert wheres(box, "payments")[0] == f"and|datepaid|>|{date.fromisoformat(first_day) - timedelta(days=1)}"
    assert state["payments"]["first_day"] == first_day
    box.requests.clear()
    run_update(aroflo, {**configuration, "payment_full_resync_days": "0"}, state)  # 0: a full re-scan every sync
    assert wheres(box, "payments")[0] == f"and|datepaid|>|{date.fromisoformat(first_day) - timedelta(days=1)}"


@pytest.mark.parametrize("days_ago, walking", [(200, False), (200, True), (20, False)])
def test_a_state_saved_before_first_day_existed_goes_on_from_its_cursor(aroflo, fake_box, days_ago, walking):
    """A state from before payments had re-scans: a cursor (maybe mid-walk), no first_day. After a pause longer
    than initial_sync_days, the upgraded connector must neither skip the payments between the cursor and that
    window nor start every later re-scan after them; and the walk it finished must not cost the next lookback."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "initial_sync_days": "90", "enable_users_sync": "false",
                     "enable_suppliers_sync": "false"}
    today = datetime.now(timezone.utc).date()
    cursor = today - timedelta(days=days_ago)
    entry = {"cursor": cursor.isoformat(), **({"walking": ["cursor"]} if walking else {})}
    recorder, state = run_update(aroflo, configuration, {"payments": entry})
    first_day = min(cursor - timedelta(days=7), today - timedelta(days=90))  # 7: where the old version went on
    assert state["payments"]["first_day"] == first_day.isoformat()
    assert set(wheres(box, "payments")) == {f"and|datepaid|>|{first_day - timedelta(days=1)}"}
    expected = {r["paymentid"] for r in fake.rows("payments") if r["datepaid"].replace("/", "-") >= str(first_day)}
    assert set(synced(recorder, "payments")) == expected
    assert "walking" not in state["payments"]
    box.requests.clear()
    run_update(aroflo, configuration, state)
    lookback_from = date.fromisoformat(state["payments"]["cursor"]) - timedelta(days=8)
    assert set(wheres(box, "payments")) == {f"and|datepaid|>|{lookback_from}"}  # the lookback, not a resume
    box.requests.clear()
    run_update(aroflo, {**configuration, "payment_full_resync_days": "0"}, state)  # and every later re-scan
    assert set(wheres(box, "payments")) == {f"and|datepaid|>|{first_day - timedelta(days=1)}"}


def test_resync_days_zero_rescans_suppliers_every_sync(aroflo, fake_box):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "supplier_full_resync_days": "0"}
    _, state = run_update(aroflo, configuration)
    second, _ = run_update(aroflo, configuration, state)
    assert set(synced(second, "suppliers")) == source_ids(fake, "suppliers")


def test_first_sync_reads_initial_sync_days_of_payments(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, state = run_update(aroflo, {**configuration, "initial_sync_days": "30"})
    first_day = datetime.now(timezone.utc).date() - timedelta(days=30)
    assert wheres(box, "payments")[0] == f"and|datepaid|>|{first_day - timedelta(days=1)}"
    expected = {r["paymentid"] for r in fake.rows("payments") if r["datepaid"].replace("/", "-") >= str(first_day)}
    assert set(synced(recorder, "payments")) == expected and 0 < len(expected) < SMALL["payments"]
    assert set(synced(recorder, "users")) == source_ids(fake, "users")  # users and suppliers: all history


def test_incremental_off_rereads_everything_each_sync(aroflo, fake_box):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_incremental_sync": "false"}
    _, state = run_update(aroflo, configuration)
    box.requests.clear()
    second, _ = run_update(aroflo, configuration, state)
    assert wheres(box, "users")[0] == "and|lastupdateddatetimeutc|>|2001-01-01 00:00:00"
    assert wheres(box, "payments")[0] == "and|datepaid|>|2000-12-31"
    for table in TABLES:
        assert set(synced(second, table)) == source_ids(fake, table)


def test_disabled_tables_are_not_requested(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, state = run_update(aroflo, {**configuration, "enable_users_sync": "false",
                                          "enable_payments_sync": "false"})
    assert {r.arg("zone") for r in box.requests_to("aroflo")} == {"suppliers"}
    assert set(state) == {"suppliers"} and recorder.upserts("users") == []


def test_a_failure_mid_table_keeps_state_and_the_next_sync_converges(aroflo, fake_box, monkeypatch):
    monkeypatch.setattr(aroflo, "TableProgress", _every_page_progress(aroflo))
    fake, box, configuration = fake_box()
    box.faults.add("aroflo", "/", "status", nth=9, times=None, status=500)  # 4 users + 3 suppliers + payments 1
    failed = Recorder()
    with pytest.raises(HttpError, match="HTTP 500"):
        run_update(aroflo, configuration, recorder=failed)
    state = failed.checkpoints[-1]
    committed = _committed(failed, "payments")
    scan = state["payments"]["full_scan"]  # a first sync is the first full scan
    assert scan["cursor"] == max(r["datepaid"] for r in committed)  # page 1 only
    assert scan["walking"] == ["cursor"]
    box.faults.clear()
    box.requests.clear()
    second, final = run_update(aroflo, configuration, state)
    resumed_day = date.fromisoformat(scan["cursor"]) - timedelta(days=1)
    assert wheres(box, "payments")[0] == f"and|datepaid|>|{resumed_day}"  # the cursor's day again, no lookback
    assert len(second.upserts("payments")) < SMALL["payments"] - 50 + 5  # only rows tied with the cursor re-read
    assert "walking" not in final["payments"] and "full_scan" not in final["payments"]
    assert {r["id"] for r in committed} | set(synced(second, "payments")) == source_ids(fake, "payments")
    assert len(committed) == 50 and state["users"] and state["suppliers"]


def _committed(recorder: Recorder, table: str) -> list[dict]:
    last = max(i for i, (kind, _, _) in enumerate(recorder.operations) if kind == "checkpoint")
    return [data for kind, name, data in recorder.operations[:last] if kind == "upsert" and name == table]


def _every_page_progress(aroflo):
    original = aroflo.TableProgress

    def make(table, log=None, **_):
        return original(table, log=log, every_rows=1)

    return make


def test_rows_out_of_order_put_the_cursor_back_until_the_walk_ends(aroflo, vtime, monkeypatch):
    """If AroFlo ignored ``order``, a saved cursor could skip rows: the walk then checkpoints the cursor it began
    with (none, on a first sync) and moves it only at the end."""
    responses_mock = responses.RequestsMock()
    rows = [{"paymentid": f"P{n}", "datepaid": day} for n, day in enumerate(
        ["2024/01/05", "2024/01/06", "2024/01/01", "2024/01/02"])]
    with responses_mock:
        for page, chunk in ((1, rows[:2]), (2, rows[2:]), (3, [])):
            responses_mock.get("https://api.aroflo.com/", match=[responses.matchers.query_param_matcher(
                {"zone": "payments", "where": "and|datepaid|>|2000-12-31", "order": ["datepaid|asc", "paymentid|asc"],
                 "page": str(page), "pageSize": "2"})],
                json={"status": "0", "statusmessage": "Login OK", "zoneresponse": {
                    "payments": chunk, "currentpageresults": len(chunk), "maxpageresults": 500}})
        monkeypatch.setattr(aroflo, "TableProgress", _every_page_progress(aroflo))
        recorder, state = run_update(aroflo, {"uencoded": "u1234", "pencoded": "p1234", "orgencoded": "o1234",
                                              "secret_key": "k1234", "enable_users_sync": "false",
                                              "enable_suppliers_sync": "false", "initial_sync_days": "0",
                                              "max_records_per_page": "2"})
    scans = [c["payments"]["full_scan"] for c in recorder.checkpoints[:-1]]
    started_at = scans[0]["started_at"]
    assert scans[0] == {"started_at": started_at, "cursor": "2024-01-06", "walking": ["cursor"]}  # page 1
    assert scans[1] == {"started_at": started_at}  # page 2 showed the disorder: back to the walk's start
    assert state["payments"] == {"first_day": "2001-01-01", "cursor": "2024-01-06",
                                 "full_scan_completed_at": started_at}
    assert "out of datepaid order" in aroflo.log.text()
    assert len(recorder.upserts("payments")) == 4


def test_a_future_dated_row_cannot_push_the_cursor_past_today(aroflo, fake_box):
    fake, box, configuration = fake_box()
    fake.control_update("payments", [fake.make_id("PAY", 9)], datepaid="2099/01/01")
    _, state = run_update(aroflo, configuration)
    assert state["payments"]["cursor"] <= (datetime.now(timezone.utc).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("incremental", ["true", "false"])
def test_an_interrupted_walk_resumes_even_with_incremental_sync_off(aroflo, fake_box, incremental):
    fake, box, configuration = fake_box()
    payments = {"cursor": "2025-01-10", "walking": ["cursor"], "full_scan_completed_at": timestamps.utc_iso(
        datetime.now(timezone.utc))}  # a walk of new payments; with incremental sync off, a full scan
    if incremental == "false":
        payments = {"full_scan": {**payments, "started_at": payments.pop("full_scan_completed_at")}}
    state = {"payments": payments,
             "users": {"updated_cursor": "2025-01-10T10:00:00.000000Z", "created_cursor": "2025-01-10T10:00:00.000000Z",
                       "walking": ["created_cursor"]}}
    run_update(aroflo, {**configuration, "enable_incremental_sync": incremental}, state)
    assert wheres(box, "payments")[0] == "and|datepaid|>|2025-01-09"
    updated_from = "2025-01-10 09:00:00" if incremental == "true" else "2001-01-01 00:00:00"
    assert wheres(box, "users") [:1] == [f"and|lastupdateddatetimeutc|>|{updated_from}"]
    assert [w for w in wheres(box, "users") if "created" in w][0] == "and|createddatetimeutc|>|2025-01-10 09:59:59"


@pytest.mark.parametrize("table, entry, expected", [
    ("payments", {"cursor": "03/01/2024"}, "payments cursor '03/01/2024' is not a date"),
    ("users", {"updated_cursor": 1704078000}, "users updated_cursor 1704078000 is not a UTC timestamp"),
])
def test_a_saved_cursor_the_connector_did_not_write_fails_with_what_to_do(aroflo, fake_box, table, entry, expected):
    fake, box, configuration = fake_box()
    entry = {**entry, "full_scan_completed_at": timestamps.utc_iso(datetime.now(timezone.utc))}
    with pytest.raises(ValueError, match=f"{expected}.*reset the connector's state"):
        run_update(aroflo, configuration, {table: entry})


@pytest.mark.parametrize("table, entry, shown", [
    ("users", {"updated_cursor": "2025-01-10T10:00:00.000000Z", "walking": None}, "users walking None"),
    ("users", {"walking": "updated_cursor"}, "users walking 'updated_cursor'"),
    ("payments", {"cursor": "2025-01-10", "walking": "cursor"}, "payments walking 'cursor'"),
    ("suppliers", {"full_scan": {"started_at": "2025-01-10T10:00:00.000000Z", "walking": [1]}},
     "suppliers full_scan walking [1]"),
])
def test_a_hand_edited_walking_fails_naming_the_key_before_any_request(aroflo, fake_box, table, entry, shown):
    """A null would crash on ``in``, and a string would be read as its characters: both fail, saying what to do."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, **{f"enable_{t}_sync": str(t == table).lower() for t in TABLES}}
    expected = re.escape(f"{shown} is not a list of cursor names (such as [\"cursor\"])")
    with pytest.raises(StateError, match=f"{expected}.*reset the connector's state"):
        run_update(aroflo, configuration, {table: entry})
    assert box.requests_to("aroflo") == []


def test_a_saved_cursor_in_aroflos_own_form_is_read_and_written_back_in_the_connectors(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recent = timestamps.utc_iso(datetime.now(timezone.utc))
    state = {"payments": {"cursor": "2025/01/10", "full_scan_completed_at": recent, "first_day": "2001-01-01"},
             "users": {"updated_cursor": "2025/01/10 10:00:00", "created_cursor": "2025-01-10T10:00:00Z"}}
    _, final = run_update(aroflo, configuration, state)
    assert wheres(box, "payments")[0] == "and|datepaid|>|2025-01-02"  # the cursor's day minus 8 days
    assert wheres(box, "users")[0] == "and|lastupdateddatetimeutc|>|2025-01-10 09:00:00"
    assert final["payments"]["cursor"] >= "2025-01-10" and final["users"]["updated_cursor"].endswith("Z")
    this_year = f"{datetime.now(timezone.utc).year}/01/01 00:00:00"  # "/" sorts after "-": text would keep it
    _, final = run_update(aroflo, {**configuration, "enable_incremental_sync": "false"},
                          {"users": {"updated_cursor": this_year}})  # the cursor is not read for the walk
    assert final["users"]["updated_cursor"][4] == "-"  # written back in the connector's form, and moved on


def test_a_source_field_named_id_in_any_case_is_kept_beside_the_key(aroflo):
    api = aroflo.aroflo_api
    row = api.to_row({"paymentid": "P1", "ID": "x"}, aroflo.__SPECS["payments"], "payments",
                     aroflo.open_api(aroflo.validate_configuration({
                         "uencoded": "u1", "pencoded": "p1", "orgencoded": "o1", "secret_key": "k1"})).typer)
    assert (row["id"], row["source_ID"]) == ("P1", "x")  # (ID beside id in one record fails in flatten_record)
    assert [name for name in row if name.lower() == "id"] == ["id"]


def test_archiving_arrives_but_hard_deletions_are_not_captured(aroflo, fake_box):
    fake, box, configuration = fake_box()
    first, state = run_update(aroflo, configuration)
    archived_user, deleted_payment = fake.make_id("USR", 2), fake.make_id("PAY", 230)
    fake.control_update("users", [archived_user], archived="TRUE")
    fake.control_delete("payments", [deleted_payment])
    second, _ = run_update(aroflo, configuration, state)
    replay = Recorder()
    replay.operations = first.operations + second.operations
    assert synced(replay, "users")[archived_user]["archived"] is True
    assert deleted_payment in synced(replay, "payments")  # the API reports no deletions
    assert deleted_payment not in source_ids(fake, "payments")
    assert not [op for op in second.operations if op[0] in ("delete", "truncate")]


def test_progress_logs_follow_each_walk_and_close_each_table(aroflo, fake_box, monkeypatch):
    original = aroflo.TableProgress
    monkeypatch.setattr(aroflo, "TableProgress", lambda table, log=None, **options: original(
        table, log=log, **{**options, "log_every_seconds": 0}))  # a line per page, as on a slow sync
    fake, box, configuration = fake_box()
    recorder, _ = run_update(aroflo, configuration)
    lines = [message for level, message in aroflo.log.lines if level == "INFO"]
    assert "users: reading rows with lastupdateddatetimeutc > 2001-01-01 00:00:00" in lines
    assert "payments: 100 rows so far from 2 pages (page 2, pageSize 50)" in lines
    for table in TABLES:
        closing = [line for line in lines if line.startswith(f"{table}: ") and "rows delivered" in line]
        assert closing == [f"{table}: {len(recorder.upserts(table))} rows delivered "
                           f"from {len([r for r in box.requests_to('aroflo') if r.arg('zone') == table])} pages"]
    # users: the created walk reads every user again and skips those the updated walk upserted; the line counts
    # the upserts (each user once), not the rows both walks read
    updated_users = sum(1 for row in fake.rows("users") if row["lastupdateddatetimeutc"].strip())
    assert len(recorder.upserts("users")) == SMALL["users"] < updated_users + SMALL["users"]


def test_a_checkpoint_follows_every_full_page_and_claims_only_rows_already_upserted(aroflo, fake_box):
    fake, box, configuration = fake_box()  # 50 rows a page: payments has 4 full pages and a short fifth
    recorder, _ = run_update(aroflo, configuration)
    upserted, mid_walk = [], []
    for kind, table, data in recorder.operations:
        if kind == "upsert" and table == "payments":
            upserted.append(data["datepaid"])
        elif kind == "checkpoint" and data.get("payments", {}).get("full_scan", {}).get("walking"):
            mid_walk.append((len(upserted), data["payments"]["full_scan"]["cursor"]))
            assert mid_walk[-1][1] == max(upserted)  # nothing below it is still to come
    assert [count for count, _ in mid_walk] == [50, 100, 150, 200]
    final = recorder.checkpoints[-1]["payments"]
    assert final["cursor"] == max(upserted) and "full_scan" not in final


def test_a_change_time_that_does_not_parse_costs_neither_its_supplier_nor_the_sync(aroflo, fake_box, vtime):
    """AroFlo's types are loose: one odd lastupdateutc in the feed is warned about, its supplier still read again,
    and the cursor moves by the other rows (were it to fail the sync, payments would wait until the re-scan)."""
    fake, box, configuration = fake_box()
    configuration = {**configuration, "enable_users_sync": "false"}
    _, state = run_update(aroflo, configuration)
    odd, fine = fake.make_id("SUP", 3), fake.make_id("SUP", 4)
    fake.control_update("suppliers", [odd, fine])
    zone_body, odd_change = fake._zone_body, fake.changes[-2]  # the filter sees the real time, the answer not

    def answer_with_an_odd_time(request, zone):
        body = zone_body(request, zone)
        rows = body["zoneresponse"][zone]
        body["zoneresponse"][zone] = [{**row, "lastupdateutc": "5/01/2026 1:05:00 PM"} if row is odd_change else row
                                      for row in rows]
        return body

    fake._zone_body = answer_with_an_odd_time
    vtime.now += 60
    box.requests.clear()
    second, state2 = run_update(aroflo, configuration, state)
    rows = synced(second, "suppliers")
    assert rows[odd]["name"].endswith("(edited)") and rows[fine]["name"].endswith("(edited)")
    assert state2["suppliers"]["changes_cursor"] == max(utc_text(fake.changes[-1]["lastupdateutc"]),
                                                        state["suppliers"]["changes_cursor"])
    assert [r for r in box.requests_to("aroflo") if r.arg("zone") == "payments"], "payments ran"
    assert any(level == "WARNING" and "1 LastUpdate rows have a lastupdateutc that is not a date-time" in line
               for level, line in aroflo.log.lines)
