"""Xurrent configuration: validation errors, the shipped template, the setup form, the setup test and the schema."""

import json

import pytest

from sandbox.xurrent import ACCOUNT, XurrentFake
from shared.config import ConfigError
from tests.harness import ROOT

PAT = "pat-0123456789abcdef"


@pytest.mark.parametrize("changes, message", [
    ({"account_id": ""}, "'account_id' is required"),
    ({"account_id": "<YOUR_XURRENT_ACCOUNT_ID>"}, "'account_id' still holds the template placeholder"),
    ({"account_id": "wid get"}, "'account_id': expected an account id"),
    ({"oauth_token": ""}, "'oauth_token' \\(a personal access token\\) is required, or 'client_id' and"),
    ({"oauth_token": "<YOUR_XURRENT_OAUTH_TOKEN>"}, "'oauth_token' still holds the template placeholder"),
    ({"client_id": "abc", "client_secret": "secret1"}, "either 'oauth_token' .* or 'client_id' and 'client_secret'"),
    ({"oauth_token": "", "client_id": "abc"}, "'client_secret' is required with 'client_id'"),
    ({"oauth_token": "", "client_secret": "secret1"}, "'client_id' is required with 'client_secret'"),
    ({"region": "eu"}, "'region': expected one of global, au, uk, ch, us, qa, qa-au, qa-uk, qa-ch, qa-us, demo"),
    ({"base_url": "api.xurrent.com"}, "'base_url': expected an http"),
    ({"initial_sync_days": "0"}, "'initial_sync_days': expected an integer from 1 to 365"),
    ({"initial_sync_days": "366"}, "'initial_sync_days': expected an integer from 1 to 365"),
    ({"max_records_per_page": "101"}, "'max_records_per_page': expected an integer from 1 to 100"),
    ({"max_records_per_page": "0"}, "'max_records_per_page': expected an integer from 1 to 100"),
    ({"request_timeout_seconds": "9"}, "'request_timeout_seconds': expected an integer from 10 to 300"),
    ({"request_timeout_seconds": "301"}, "'request_timeout_seconds': expected an integer from 10 to 300"),
    ({"retry_attempts": "0"}, "'retry_attempts': expected an integer from 1 to 10"),
    ({"retry_attempts": "11"}, "'retry_attempts': expected an integer from 1 to 10"),
    ({"initial_sync_days": "thirty"}, "'initial_sync_days': expected an integer from 1 to 365, got 'thirty'"),
    ({"client_id": "<YOUR_OAUTH_CLIENT_ID>", "oauth_token": ""}, "'client_id' still holds the template placeholder"),
    ({"enable_incremental_sync": "maybe"}, "'enable_incremental_sync': expected true or false"),
    ({"oauth_token": "pat-0123\n456789"}, "'oauth_token' contains a line break"),  # else http.client quotes it
    ({"oauth_token": "", "client_id": "abc", "client_secret": "sec\r\nret1"}, "'client_secret' contains a line"),
])
def test_bad_configuration_names_the_key_and_the_expected_form(xurrent, changes, message):
    configuration = {"account_id": ACCOUNT, "oauth_token": PAT, **changes}
    with pytest.raises(ConfigError, match=message):
        xurrent.validate_configuration(configuration)


def test_client_credentials_on_a_host_without_an_oauth_twin_need_a_token_url(xurrent):
    configuration = {"account_id": ACCOUNT, "client_id": "abc", "client_secret": "secret1",
                     "base_url": "http://127.0.0.1:8080/v1"}
    with pytest.raises(ConfigError, match="'token_url' is required with client credentials"):
        xurrent.validate_configuration(configuration)
    settings = xurrent.validate_configuration({**configuration, "token_url": "http://127.0.0.1:8080/token"})
    assert settings.token_url == "http://127.0.0.1:8080/token"


def test_defaults_and_typed_values(xurrent):
    settings = xurrent.validate_configuration({"account_id": ACCOUNT, "oauth_token": PAT})
    assert (settings.page_size, settings.timeout_s, settings.retry_attempts) == (100, 30, 3)
    assert settings.incremental is True and settings.initial_sync_days is None
    settings = xurrent.validate_configuration({"account_id": ACCOUNT, "oauth_token": PAT, "initial_sync_days": "30",
                                               "max_records_per_page": "50", "enable_incremental_sync": "false"})
    assert (settings.initial_sync_days, settings.page_size, settings.incremental) == (30, 50, False)
    seed = xurrent.validate_configuration({"account_id": ACCOUNT, "oauth_token": PAT, "sync_frequency_hours": "4"})
    assert seed == xurrent.validate_configuration({"account_id": ACCOUNT, "oauth_token": PAT})  # ignored


def test_the_shipped_template_is_rejected_before_anything_syncs(xurrent):
    template = json.loads((ROOT / "xurrent" / "configuration.json").read_text())
    assert all(isinstance(value, str) for value in template.values())
    listed = template["region"].removeprefix("<OPTIONAL_REGION_").removesuffix("_DEFAULT_global>").split("_")
    assert listed == list(getattr(xurrent, "__REGION_API_URLS"))  # every region the connector accepts
    with pytest.raises(ConfigError, match="placeholder"):
        xurrent.validate_configuration(template)
    with pytest.raises(ConfigError, match="placeholder"):
        xurrent.update(template, {})


def test_the_form_lists_every_configuration_key(xurrent):
    form = xurrent.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    assert set(fields) == {"account_id", "region", "oauth_token", "client_id", "client_secret", "base_url",
                           "token_url", "initial_sync_days", "max_records_per_page", "request_timeout_seconds",
                           "retry_attempts", "enable_incremental_sync"}
    assert all(f.label and f.description for f in form.fields)
    assert fields["account_id"].required is True
    assert fields["oauth_token"].text_field == 1 and fields["client_secret"].text_field == 1  # password fields
    assert [o.value for o in fields["region"].dropdown_options] == [
        "global", "au", "uk", "ch", "us", "qa", "qa-au", "qa-uk", "qa-ch", "qa-us", "demo"]
    assert fields["enable_incremental_sync"].toggle
    assert fields["initial_sync_days"].placeholder == "all history"  # the default, not a number that looks like one
    assert [t.name for t in form.tests] == ["test_connection"]


def test_schema_declares_keys_and_types(xurrent):
    tables = {t["table"]: t for t in xurrent.schema({})}
    assert set(tables) == {"organizations", "products", "projects"}
    for table in tables.values():
        assert table["primary_key"] == ["id"] and table["columns"]["id"] == "LONG"
        assert table["columns"]["updated_at"] == "UTC_DATETIME" and table["columns"]["custom_fields"] == "JSON"
    assert tables["organizations"]["columns"]["disabled"] == "BOOLEAN"
    assert tables["organizations"]["columns"]["parent_id"] == "LONG"
    assert tables["products"]["columns"]["salvage_value"] == {"type": "DECIMAL", "precision": 38, "scale": 6}
    assert tables["products"]["columns"]["service_provider_id"] == "LONG"
    assert tables["projects"]["columns"]["completed_at"] == "UTC_DATETIME"
    assert tables["projects"]["columns"]["total_cost"]["type"] == "DECIMAL"



REFERENCE_TEXT = ("name", "account_id", "account_name")  # contract 4.3: {id, name}, plus account {id, name}
DOCUMENTED_TEXT = {  # contract section 3: the fields it documents as (or names as) text, named as flattened
    "organizations": {"sourceID", "name", "financialID", "region", "remarks", "picture_uri", "source",
                      *(f"{ref}_{part}" for ref in ("parent", "manager", "business_unit_organization", "substitute",
                                                     "ui_extension", "order_template") for part in REFERENCE_TEXT)},
    "products": {"sourceID", "name", "category", "brand", "model", "productID", "rule_set", "depreciation_method",
                 "salvage_value_currency", "remarks", "picture_uri", "source", "salvage_value_raw", "rate_raw",
                 *(f"{ref}_{part}" for ref in ("support_team", "service", "service_provider", "financial_owner",
                                                "supplier", "ui_extension", "workflow_template", "workflow_manager")
                   for part in REFERENCE_TEXT)},
    "projects": {"sourceID", "subject", "category", "status", "justification", "value_currency", "completion_reason",
                 "time_zone", "source", "service_localized_name",
                 *(f"{name}_raw" for name in ("cost_of_effort", "cost_of_purchases", "total_cost", "value")),
                 *(f"{ref}_{part}" for ref in ("manager", "service", "service_provider", "customer", "program",
                                                "risk_level", "work_hours", "ui_extension")
                   for part in REFERENCE_TEXT)},
}


def test_schema_declares_every_documented_text_field_string_and_keeps_the_typed_ones(xurrent):
    tables = {t["table"]: t["columns"] for t in xurrent.schema({})}
    for table, columns in tables.items():
        assert {name for name, kind in columns.items() if kind == "STRING"} == DOCUMENTED_TEXT[table], table
        assert "description" not in columns  # not a field of these resources in the contract
    assert tables["products"]["useful_life"] == "LONG" and tables["projects"]["effort"] == "LONG"
    assert tables["products"]["support_team_id"] == "LONG" and tables["organizations"]["business_unit"] == "BOOLEAN"

@pytest.mark.parametrize("auth_mode", ["token", "oauth"])
def test_setup_test_succeeds_with_one_record_per_table(xurrent, sandbox, sleeps, auth_mode):
    box = sandbox(XurrentFake(auth_mode=auth_mode))
    result = xurrent.test_connection(box.configuration("xurrent"))
    assert result.success is True
    assert [r.query["per_page"] for r in box.requests_to("xurrent", "/v1/")] == [["1"]] * 3


@pytest.mark.parametrize("changes, expected", [
    ({"oauth_token": "wrong-token-1234"}, "Xurrent refused the credentials: .*HTTP 401.*token.*scopes"),
    ({"account_id": "other"}, "Xurrent refused the credentials: .*HTTP 403.*'account_id' is not the account"),
    ({"account_id": "<YOUR_XURRENT_ACCOUNT_ID>"}, "'account_id' still holds the template placeholder"),
    ({"oauth_token": "", "client_id": "x"}, "'client_secret' is required"),
])
def test_setup_test_turns_each_failure_into_an_actionable_message(xurrent, sandbox, sleeps, changes, expected):
    box = sandbox(XurrentFake())
    result = xurrent.test_connection({**box.configuration("xurrent"), **changes})
    assert result.success is None and result.failure
    assert __import__("re").search(expected, result.failure), result.failure
    assert "wrong-token-1234" not in result.failure


def test_setup_test_reports_a_wrong_client_secret_and_a_wrong_host(xurrent, sandbox, sleeps):
    box = sandbox(XurrentFake(auth_mode="oauth"))
    configuration = box.configuration("xurrent")
    bad_secret = xurrent.test_connection({**configuration, "client_secret": "nope-secret"}).failure
    assert "The OAuth token request was refused" in bad_secret and "nope-secret" not in bad_secret
    wrong_path = xurrent.test_connection({**configuration, "base_url": box.url("xurrent") + "/v2"}).failure
    assert "answered with an error" in wrong_path and "HTTP 404" in wrong_path and "'region'" in wrong_path


def test_setup_test_reports_an_unreachable_host(xurrent, sleeps):
    configuration = {"account_id": ACCOUNT, "oauth_token": PAT, "base_url": "http://127.0.0.1:9/v1"}
    failure = xurrent.test_connection(configuration).failure
    assert failure.startswith("Could not reach Xurrent") and "'region' (or 'base_url')" in failure
    assert PAT not in failure
