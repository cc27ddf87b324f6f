"""Configuration, the setup form and setup test, secrets kept out of every output, and the SDK's own runner."""

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import responses

from sandbox.aroflo import AroFloFake
from shared.config import ConfigError
from shared.http_client import RateLimiter
from tests.aroflo.conftest import SMALL, source_ids
from tests.aroflo.test_aroflo_signing import api_module
from tests.harness import ROOT, LocalRunner, run_update

REQUIRED = {"uencoded": "u-value-1", "pencoded": "p-value-1", "orgencoded": "o-value-1", "secret_key": "k-value-1"}
ALL_KEYS = {"uencoded", "pencoded", "orgencoded", "secret_key", "host_ip", "initial_sync_days",
            "max_records_per_page", "request_timeout_seconds", "retry_attempts", "enable_users_sync",
            "enable_suppliers_sync", "enable_payments_sync", "enable_incremental_sync", "enable_debug_logging",
            "supplier_full_resync_days", "payment_full_resync_days", "base_url"}


def test_defaults(aroflo):
    settings = aroflo.validate_configuration(REQUIRED)
    assert (settings.page_size, settings.timeout_s, settings.retry_attempts) == (500, 30, 3)
    assert (settings.initial_sync_days, settings.supplier_full_resync_days, settings.payment_full_resync_days) == (
        90, 7, 7)
    assert settings.base_url == "https://api.aroflo.com" and settings.host_ip is None
    assert settings.tables == ("users", "suppliers", "payments")
    assert settings.incremental is True and settings.debug_logging is False
    assert all(value not in repr(settings) for value in REQUIRED.values())


@pytest.mark.parametrize("key, value, message", [
    ("uencoded", "", "'uencoded' is required"),
    ("secret_key", "<YOUR_AROFLO_API_SECRET_KEY>", "'secret_key' still holds the template placeholder"),
    ("initial_sync_days", "-1", "'initial_sync_days': expected an integer from 0"),
    ("max_records_per_page", "0", "'max_records_per_page': expected an integer from 1 to 500"),
    ("max_records_per_page", "501", "'max_records_per_page': expected an integer from 1 to 500"),
    ("request_timeout_seconds", "0", "'request_timeout_seconds': expected an integer from 1"),
    ("retry_attempts", "11", "'retry_attempts': expected an integer from 0 to 10"),
    ("enable_users_sync", "maybe", "'enable_users_sync': expected true or false"),
    ("supplier_full_resync_days", "366", "'supplier_full_resync_days': expected an integer from 0 to 365"),
    ("payment_full_resync_days", "-1", "'payment_full_resync_days': expected an integer from 0 to 365"),
    ("host_ip", "my-laptop", "'host_ip': expected the public IP address"),
    ("base_url", "api.aroflo.com", "'base_url': expected an http"),
])
def test_bad_configuration_names_the_key(aroflo, key, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        aroflo.validate_configuration({**REQUIRED, key: value})
    if key == "secret_key":
        assert value not in str(error.value)


@responses.activate
def test_disabling_every_table_is_an_error_and_nothing_is_requested(aroflo):
    off = {f"enable_{table}_sync": "false" for table in ("users", "suppliers", "payments")}
    with pytest.raises(ConfigError, match="every table is disabled.*enable_users_sync"):
        run_update(aroflo, {**REQUIRED, **off})
    assert len(responses.calls) == 0


def test_the_shipped_template_is_rejected(aroflo):
    template = json.loads((ROOT / "aroflo" / "configuration.json").read_text())
    assert set(template) == ALL_KEYS and all(isinstance(v, str) for v in template.values())
    with pytest.raises(ConfigError, match="placeholder"):
        aroflo.validate_configuration(template)
    with pytest.raises(ConfigError, match="placeholder"):
        run_update(aroflo, template)


def test_no_retries_still_makes_one_attempt(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(aroflo, {**configuration, "retry_attempts": "0"})
    assert {k[0] for k in recorder.table("users", ["id"])} == source_ids(fake, "users")


@responses.activate
def test_the_real_host_is_the_default(aroflo, vtime):
    for zone in ("users", "suppliers", "payments"):
        responses.get("https://api.aroflo.com/", match=[responses.matchers.query_param_matcher(
            {"zone": zone}, strict_match=False)], json={"status": "0", "statusmessage": "Login OK", "zoneresponse": {
                zone: [], "currentpageresults": 0, "maxpageresults": "500"}})
    recorder, state = run_update(aroflo, REQUIRED)
    assert [call.request.url.split("?")[0] for call in responses.calls] == ["https://api.aroflo.com/"] * 4
    assert all(call.request.headers["Accept"] == "text/json" for call in responses.calls)
    assert all("pageSize=500" in call.request.url for call in responses.calls)
    scanned_at = state["suppliers"]["full_scan_completed_at"]
    first_day = (datetime.now(timezone.utc).date() - timedelta(days=90)).isoformat()
    assert state == {"users": {}, "suppliers": {"cursor": None, "full_scan_completed_at": scanned_at,
                                                 "changes_cursor": scanned_at},
                     "payments": {"first_day": first_day, "cursor": None, "full_scan_completed_at": scanned_at}}


def test_host_ip_is_sent_and_signed(aroflo, fake_box):
    fake, box, configuration = fake_box()
    recorder, _ = run_update(aroflo, {**configuration, "host_ip": "203.0.113.10"})
    assert all(r.header("hostip") == "203.0.113.10" for r in box.requests_to("aroflo"))
    assert {k[0] for k in recorder.table("payments", ["id"])} == source_ids(fake, "payments")


def test_canary_secrets_never_appear_in_output_logs_or_errors(aroflo, sandbox, vtime, capsys):
    canaries = {"uencoded": "CANARY-u+en/c==", "pencoded": "CANARY-pencoded-7", "orgencoded": "CANARY-org=9",
                "secret_key": "CANARY-secret-key-3"}
    fake = AroFloFake(counts=SMALL, clock=vtime.clock, uencoded=canaries["uencoded"],
                      pencoded=canaries["pencoded"], orgencoded=canaries["orgencoded"],
                      secret_key=canaries["secret_key"])
    box = sandbox(fake)
    configuration = {**box.configuration("aroflo"), "enable_debug_logging": "true", "max_records_per_page": "50"}
    box.faults.add("aroflo", "/", "status", nth=2, status=503)
    box.faults.add("aroflo", "/", "reset", nth=3)
    fake.control_trigger("429", nth=5)
    run_update(aroflo, configuration)
    errors = []
    fake.control_trigger("-99999", times=None, message=f"Authentication failed for {canaries['uencoded']}")
    with pytest.raises(api_module().AuthenticationFailed) as auth_error:
        run_update(aroflo, configuration)
    errors.append(str(auth_error.value))
    fake.triggers.clear()
    box.faults.add("aroflo", "/", "status", times=None, status=400)
    with pytest.raises(Exception) as http_error:
        run_update(aroflo, configuration)
    errors.append(str(http_error.value))
    failure = aroflo.test_connection({**configuration, "secret_key": canaries["secret_key"] + "x"}).failure
    captured = capsys.readouterr()
    text = "\n".join([captured.out, captured.err, aroflo.log.text(), failure, *errors])
    signatures = {r.header("authentication").split()[1] for r in box.requests_to("aroflo")}
    for secret in [*canaries.values(), *(quote(v, safe="") for v in canaries.values()), *signatures]:
        assert secret not in text
    assert "AroFlo request: zone=users" in aroflo.log.text()  # debug logging was on


def test_setup_test_success_uses_the_free_lastupdate_zone(aroflo, fake_box):
    fake, box, configuration = fake_box()
    assert aroflo.test_connection(configuration).success is True
    [request] = box.requests_to("aroflo")
    assert request.arg("zone") == "lastupdate" and request.arg("pageSize") == "1" and request.arg("where")
    assert fake.daily_used == 0  # LastUpdate does not count toward the 2,000 a day


def test_setup_test_explains_each_failure(aroflo, fake_box, monkeypatch):
    fake, box, configuration = fake_box()
    wrong_secret = aroflo.test_connection({**configuration, "secret_key": "not-the-secret"}).failure
    assert "credentials are wrong" in wrong_secret and "clock" in wrong_secret
    assert "not-the-secret" not in wrong_secret

    real_now = api_module()._utc_now
    monkeypatch.setattr(api_module(), "_utc_now", lambda: real_now() + timedelta(hours=1))
    skewed = aroflo.test_connection(configuration).failure
    assert "Payload has expired" in skewed and "NTP" in skewed
    assert any(f"clock is {s}s ahead of AroFlo's" in skewed for s in (3599, 3600, 3601))
    monkeypatch.setattr(api_module(), "_utc_now", real_now)

    unreachable = aroflo.test_connection({**configuration, "base_url": "http://127.0.0.1:9"}).failure
    assert "Could not reach AroFlo" in unreachable and "'base_url'" in unreachable

    wrong_url = aroflo.test_connection({**configuration, "base_url": box.url("aroflo") + "/v1/users"}).failure
    assert "HTTP 404" in wrong_url and "'base_url'" in wrong_url

    fake.control_trigger("1", message="API Access is disabled for this site")
    disabled = aroflo.test_connection(configuration).failure
    assert "API access is not enabled" in disabled

    template = json.loads((ROOT / "aroflo" / "configuration.json").read_text())
    assert "placeholder" in aroflo.test_connection(template).failure
    bad_value = aroflo.test_connection({**configuration, "max_records_per_page": "1000"}).failure
    assert bad_value == "configuration key 'max_records_per_page': expected an integer from 1 to 500, got '1000'"


def test_the_form_lists_every_key(aroflo):
    form = aroflo.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    assert set(fields) == ALL_KEYS
    for key in ("uencoded", "pencoded", "orgencoded", "secret_key"):
        assert fields[key].required and fields[key].text_field == 1  # password
        assert "Site Administration > Settings > General > AroFlo API" in fields[key].description
    assert all(fields[f"enable_{t}_sync"].toggle for t in ("users", "suppliers", "payments"))
    assert all(f.label and f.description for f in form.fields)
    assert [t.name for t in form.tests] == ["test_connection"]


@pytest.mark.e2e
def test_through_the_sdk_runner_types_land_exactly(tmp_path, monkeypatch, sandbox, vtime):
    fake = AroFloFake(counts={"users": 30, "suppliers": 20, "payments": 40}, clock=vtime.clock)
    box = sandbox(fake)
    runner = LocalRunner("aroflo", tmp_path, monkeypatch)
    limits = getattr(runner.module, "__RATE_LIMITS")
    monkeypatch.setattr(runner.module, "new_rate_limiter",
                        lambda: RateLimiter(limits, clock=vtime.clock))
    configuration = box.configuration("aroflo")
    assert runner.sync(configuration)
    payments = {row["id"]: row for row in runner.rows("payments")}
    assert set(payments) == source_ids(fake, "payments")
    raw = fake.row("payments", 7)
    payment = payments[fake.make_id("PAY", 7)]
    assert str(payment["amount"]) == raw["amount"] and str(payment["payment_date"]) == raw["datepaid"].replace(
        "/", "-")
    users = {row["id"]: row for row in runner.rows("users")}
    assert users[fake.make_id("USR", 3)]["created_at"].endswith("+00")
    assert users[fake.make_id("USR", 1)]["updated_at"] is None and users[fake.make_id("USR", 5)]["archived"] is True
    kinds = dict(runner.query("select column_name, data_type from information_schema.columns "
                              "where table_schema = 'tester' and table_name = 'payments'"))
    assert kinds["amount"] == "DECIMAL(18,4)" and kinds["datepaid"] == "DATE"
    state = runner.state
    fake.control_insert("payments", 2)
    assert runner.sync(configuration, state)
    assert {row["id"] for row in runner.rows("payments")} == source_ids(fake, "payments")


def _runner_on(fake: AroFloFake, tmp_path, monkeypatch, sandbox, vtime) -> tuple[LocalRunner, dict]:
    box = sandbox(fake)
    runner = LocalRunner("aroflo", tmp_path, monkeypatch)
    limits = getattr(runner.module, "__RATE_LIMITS")
    monkeypatch.setattr(runner.module, "new_rate_limiter", lambda: RateLimiter(limits, clock=vtime.clock))
    return runner, box.configuration("aroflo")


def _column_types(runner: LocalRunner, table: str) -> dict:
    return dict(runner.query("select column_name, data_type from information_schema.columns "
                             f"where table_schema = 'tester' and table_name = '{table}'"))


@pytest.mark.e2e
def test_through_the_sdk_runner_an_amount_decimal_18_4_cannot_hold_lands_as_text_in_raw(tmp_path, monkeypatch,
                                                                                       sandbox, vtime):
    """Without it, DuckDB rounded 1234567.12345 to 1234567.1235 and wrote null for 15 digits before the point."""
    fake = AroFloFake(counts={"users": 2, "suppliers": 2, "payments": 3}, clock=vtime.clock)
    five_places, fifteen_digits, exact = (fake.make_id("PAY", n) for n in (1, 2, 3))
    fake.control_update("payments", [five_places], amount="1234567.12345")
    fake.control_update("payments", [fifteen_digits], amount="123456789012345.6789")
    fake.control_update("payments", [exact], amount="99999999999999.9999")
    runner, configuration = _runner_on(fake, tmp_path, monkeypatch, sandbox, vtime)
    assert runner.sync(configuration)
    rows = {row["id"]: row for row in runner.rows("payments")}
    assert (rows[five_places]["amount"], rows[five_places]["amount_raw"]) == (None, "1234567.12345")
    assert (rows[fifteen_digits]["amount"], rows[fifteen_digits]["amount_raw"]) == (None, "123456789012345.6789")
    assert (str(rows[exact]["amount"]), rows[exact]["amount_raw"]) == ("99999999999999.9999", None)
    assert _column_types(runner, "payments")["amount_raw"] == "VARCHAR"


@pytest.mark.e2e
def test_through_the_sdk_runner_documented_text_fields_land_as_text(tmp_path, monkeypatch, sandbox, vtime):
    """Undeclared, "T" in every row landed as BOOLEAN true and postcodes as BIGINT (0800 would be 800)."""
    fake = AroFloFake(counts={"users": 2, "suppliers": 3, "payments": 2}, clock=vtime.clock)
    suppliers = [fake.make_id("SUP", n) for n in (1, 2, 3)]
    fake.control_update("suppliers", suppliers, shortname="T")
    darwin = {**fake.row("suppliers", 3)["address"], "suburb": "Darwin", "state": "NT", "postcode": "0800"}
    fake.control_update("suppliers", suppliers[2:], address=darwin)  # the last row: the first ones read 3134
    runner, configuration = _runner_on(fake, tmp_path, monkeypatch, sandbox, vtime)
    assert runner.sync(configuration)
    rows = {row["id"]: row for row in runner.rows("suppliers")}
    assert {row["shortname"] for row in rows.values()} == {"T"}
    assert rows[suppliers[2]]["address_postcode"] == "0800" and rows[suppliers[0]]["address_postcode"] == "3134"
    assert rows[suppliers[0]]["abn"] == fake.row("suppliers", 1)["abn"] == "00000000001"
    kinds = _column_types(runner, "suppliers")
    assert {kinds[name] for name in ("shortname", "abn", "address_postcode", "phone", "tax_id")} == {"VARCHAR"}
