"""The setup forms carry the labels, field kinds and setup-test labels each README's "Setup form" table quotes."""
import pytest

from tests.harness import load_connector

PASSWORD, TEXT = 1, 0

# (key, label, kind) as each README's "Setup form" table states them
EXPECTED = {
    "pindrop": ("Get an access token and open one report", [  # pindrop/README.md:83-98
        ("client_id", "Client ID", "text"), ("client_secret", "Client secret", "password"),
        ("report_types", "Reports to sync", "dropdown"), ("start_date", "Start date", "text"),
        ("lookback_days", "Lookback (days)", "text"),
        ("missing_report_grace_days", "Grace for late reports (days)", "text"),
        ("token_url", "Token URL", "text"), ("base_url", "API base URL", "text"),
        ("requests_per_second", "Requests per second", "text")]),
    "courier": ("Read one page of brands with the API key", [  # courier/README.md:26-33
        ("api_key", "API key", "password"), ("base_url", "API base URL", "text"),
        ("start_date", "Messages start date", "text"), ("messages_lookback_days", "Messages lookback (days)", "text")]),
    "aroflo": ("Sign one request to AroFlo (LastUpdate zone, free of the daily limit)", [  # aroflo/README.md:59-77
        ("uencoded", "uEncoded", "password"), ("pencoded", "pEncoded", "password"),
        ("orgencoded", "orgEncoded", "password"), ("secret_key", "API secret key", "password"),
        ("host_ip", "Host IP", "text"), ("initial_sync_days", "Initial payments window (days)", "text"),
        ("max_records_per_page", "Rows per page", "text"),
        ("request_timeout_seconds", "Request timeout (seconds)", "text"), ("retry_attempts", "Retries", "text"),
        ("supplier_full_resync_days", "Supplier full re-scan (days)", "text"),
        ("payment_full_resync_days", "Payment full re-scan (days)", "text"), ("base_url", "API URL", "text"),
        ("enable_users_sync", "Sync users", "toggle"), ("enable_suppliers_sync", "Sync suppliers", "toggle"),
        ("enable_payments_sync", "Sync payments", "toggle"), ("enable_incremental_sync", "Incremental sync", "toggle"),
        ("enable_debug_logging", "Debug logging", "toggle")]),
    "xurrent": ("Read one record of each table with these credentials", [  # xurrent/README.md:52-62
        ("account_id", "Account ID", "text"), ("region", "Region", "dropdown"),
        ("oauth_token", "Personal access token", "password"), ("client_id", "OAuth client ID", "text"),
        ("client_secret", "OAuth client secret", "password"), ("base_url", "API base URL", "text"),
        ("token_url", "OAuth token URL", "text"), ("initial_sync_days", "Initial sync (days)", "text"),
        ("max_records_per_page", "Records per page", "text"),
        ("request_timeout_seconds", "Request timeout (seconds)", "text"), ("retry_attempts", "Retries", "text"),
        ("enable_incremental_sync", "Incremental sync", "toggle")]),
}


def kind(field):
    if field.toggle:
        return "toggle"
    if field.dropdown_options:
        return "dropdown"
    return "password" if field.text_field == PASSWORD else "text"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_readmes_form_labels_kinds_and_setup_test_label_are_the_forms(name):
    test_label, fields = EXPECTED[name]
    form = load_connector(name).configuration_form().to_response()
    assert {(f.name, f.label, kind(f)) for f in form.fields} == set(fields)
    assert [t.label for t in form.tests] == [test_label]


# xurrent/README.md:55 "dropdown: global, au, ..., demo (each shown with its host)"
def test_the_xurrent_region_dropdown_shows_each_region_with_its_host():
    module = load_connector("xurrent")
    region = next(f for f in module.configuration_form().to_response().fields if f.name == "region")
    hosts = {"global": "api.xurrent.com", "au": "api.au.xurrent.com", "uk": "api.uk.xurrent.com",
             "ch": "api.ch.xurrent.com", "us": "api.us.xurrent.com", "qa": "api.xurrent.qa",
             "qa-au": "api.au.xurrent.qa", "qa-uk": "api.uk.xurrent.qa", "qa-ch": "api.ch.xurrent.qa",
             "qa-us": "api.us.xurrent.qa", "demo": "api.xurrent-demo.com"}
    assert [(o.value, o.label) for o in region.dropdown_options] == [(r, f"{r} ({h})") for r, h in hosts.items()]


# pindrop/README.md:87,95 "dropdown: all six, or one of the six"
def test_the_pindrop_report_dropdown_offers_all_six_or_one():
    module = load_connector("pindrop")
    field = next(f for f in module.configuration_form().to_response().fields if f.name == "report_types")
    six = ["blacklist", "calls", "audit", "cases", "account_risk", "enrollment"]
    assert [o.value for o in field.dropdown_options] == [",".join(six), *six]
