"""Xurrent against the contract's documented shapes at the production hosts (``responses`` mocks, no network):
exact field sets, a checkpoint per page, blank references, regions in the setup test, progress lines, boundaries.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from shared.http_client import HttpError
from shared.parsing import PayloadError
from tests.harness import Recorder, run_update

HOST = "https://api.xurrent.com/v1"
PAT = "pat-0123456789abcdef"
CONFIGURATION = {"account_id": "widget", "oauth_token": PAT}
TABLES = ("organizations", "products", "projects")

# Contract section 3: the default collection fields plus every field it lists as selectable with fields=.
DOCUMENTED_FIELDS = {
    "organizations": {"sourceID", "name", "parent", "manager", "created_at", "updated_at", "business_unit",
                      "business_unit_organization", "disabled", "end_user_privacy", "financialID", "region",
                      "remarks", "substitute", "custom_fields", "picture_uri", "source", "ui_extension",
                      "order_template"},
    "products": {"sourceID", "name", "category", "support_team", "service", "created_at", "updated_at", "brand",
                 "model", "productID", "rule_set", "depreciation_method", "financial_owner", "supplier", "rate",
                 "useful_life", "salvage_value", "salvage_value_currency", "remarks", "picture_uri", "ui_extension",
                 "workflow_template", "workflow_manager", "recurrence", "custom_fields", "disabled", "source"},
    "projects": {"sourceID", "subject", "manager", "category", "status", "completion_target_at", "completed_at",
                 "service", "created_at", "updated_at", "customer", "justification", "program", "risk_level",
                 "cost_of_effort", "cost_of_purchases", "total_cost", "value", "value_currency", "effort", "roi",
                 "completion_reason", "resolution_duration", "time_zone", "work_hours", "custom_fields",
                 "ui_extension", "source"},
}


def query_of(call) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def calls_to(table: str) -> list:
    return [call for call in responses.calls if urlsplit(call.request.url).path == f"/v1/{table}"]


def mock_empty(*tables: str, host: str = HOST) -> None:
    for table in tables:
        responses.get(f"{host}/{table}", json=[])


@responses.activate
def test_each_table_asks_for_its_documented_fields_sorted_by_updated_at_100_per_page(xurrent, sleeps):
    mock_empty(*TABLES)
    run_update(xurrent, CONFIGURATION)
    for table in TABLES:
        (call,) = calls_to(table)
        query = query_of(call)
        assert set(query["fields"].split(",")) == DOCUMENTED_FIELDS[table], table
        assert (query["sort"], query["per_page"]) == ("updated_at", "100")
        assert "updated_at" not in query  # no cursor and no initial_sync_days: all history
        assert call.request.url.startswith(f"{HOST}/{table}?")
        assert call.request.headers["X-Xurrent-Account"] == "widget"


@responses.activate
def test_a_failed_page_checkpoints_the_pages_before_it_so_the_next_sync_resumes_there(xurrent, sleeps):
    second = f"{HOST}/organizations?per_page=100&sort=updated_at&search_after=abc%3D%3D"
    responses.get(f"{HOST}/organizations", headers={"Link": f'<{second}>; rel="next"'},
                  json=[{"id": 50, "name": "Finance", "created_at": "2016-03-22T21:02:50-05:00",
                         "updated_at": "2016-03-22T21:03:36-05:00"},
                        {"id": 51, "name": "Inc.", "created_at": "2016-03-22T21:02:50-05:00",
                         "updated_at": "2016-03-23T08:00:00+05:30"}])
    responses.get(second, status=500, json={"message": "Internal Server Error"})
    failed = Recorder()
    with pytest.raises(HttpError, match="HTTP 500 after 4 attempts"):
        run_update(xurrent, CONFIGURATION, recorder=failed)
    # The largest updated_at of page 1 in UTC (21:03:36-05:00 is 02:03:36Z, 08:00+05:30 is 02:30:00Z).
    assert failed.checkpoints[-1] == {"organizations": {"cursor": "2016-03-23T02:30:00Z"}}

    responses.reset()
    mock_empty(*TABLES)
    run_update(xurrent, CONFIGURATION, failed.checkpoints[-1])
    assert query_of(calls_to("organizations")[0])["updated_at"] == ">=2016-03-23T02:30:00Z"
    assert "updated_at=%3E%3D2016-03-23T02%3A30%3A00Z" in calls_to("organizations")[0].request.url


@responses.activate
def test_blank_references_and_an_omitted_disabled_arrive_as_null_and_false(xurrent, sleeps):
    responses.get(f"{HOST}/organizations", json=[
        {"id": 51, "sourceID": None, "name": "Widget North America, Inc.", "parent": None,
         "manager": {"id": 120, "name": "Carolyn Goldrat"}, "created_at": "2016-03-22T21:02:50-05:00",
         "updated_at": "2016-03-22T21:03:36-05:00"}])
    mock_empty("products", "projects")
    recorder, _ = run_update(xurrent, CONFIGURATION)
    (row,) = recorder.upserts("organizations")
    assert row["parent_id"] is None and row["parent_name"] is None and "parent" not in row
    assert (row["manager_id"], row["manager_name"]) == (120, "Carolyn Goldrat")
    assert row["disabled"] is False
    assert row["created_at"] == "2016-03-23T02:02:50.000000Z"


def test_an_empty_reference_is_null_and_boolean_text_is_read_as_a_boolean(xurrent):
    organizations = [t for t in xurrent.__TABLES if t.name == "organizations"][0]
    row = xurrent.to_row({"id": 1, "manager": {}, "disabled": "TRUE", "business_unit": "false",
                          "updated_at": "2024-01-01T00:00:00Z"}, organizations)
    assert (row["manager_id"], row["manager_name"]) == (None, None) and "manager" not in row
    assert (row["disabled"], row["business_unit"]) == (True, False)
    with pytest.raises(PayloadError, match="organizations.disabled \\(record id 1\\): 'maybe' is not a boolean"):
        xurrent.to_row({"id": 1, "disabled": "maybe"}, organizations)


@responses.activate
def test_a_record_without_updated_at_is_delivered_and_leaves_the_cursor_to_the_others(xurrent, sleeps, log,
                                                                                       monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    responses.get(f"{HOST}/products", json=[{"id": 1, "name": "A", "updated_at": "2024-05-01T10:00:00Z"},
                                            {"id": 2, "name": "B"}])
    mock_empty("organizations", "projects")
    recorder, state = run_update(xurrent, CONFIGURATION)
    assert [row["id"] for row in recorder.upserts("products")] == [1, 2]
    assert recorder.upserts("products")[1]["updated_at"] is None
    assert state["products"] == {"cursor": "2024-05-01T10:00:00Z"}
    assert "products: 1 records had no updated_at" in log.text()


@responses.activate
def test_progress_lines_name_each_table_and_close_with_its_row_count(xurrent, sleeps, log, monkeypatch):
    monkeypatch.setattr(xurrent, "log", log)
    responses.get(f"{HOST}/organizations", json=[{"id": i, "updated_at": "2024-05-01T10:00:00Z"} for i in (1, 2)])
    mock_empty("products", "projects")
    run_update(xurrent, CONFIGURATION)
    info = [message for level, message in log.lines if level == "INFO"]
    assert "organizations: sync started" in info
    assert "organizations: 2 rows delivered from 1 pages; cursor 2024-05-01T10:00:00Z" in info
    assert "projects: 0 rows delivered from 1 pages; cursor None" in info
    assert len(info) == 6  # a start and a closing line per table; progress lines come at most every 10 s


@responses.activate
def test_a_capped_walk_continues_from_its_largest_updated_at(xurrent, sleeps):
    responses.get(f"{HOST}/projects", headers={"X-Pagination-Throttled": "true"},
                  json=[{"id": 7345, "updated_at": "2016-12-23T05:09:09-06:00"}])
    responses.get(f"{HOST}/projects", json=[{"id": 7346, "updated_at": "2016-12-24T00:00:00Z"}])
    mock_empty("organizations", "products")
    recorder, state = run_update(xurrent, CONFIGURATION)
    first, window = calls_to("projects")
    assert "updated_at" not in query_of(first) and query_of(window)["updated_at"] == ">=2016-12-23T11:09:09Z"
    assert [row["id"] for row in recorder.upserts("projects")] == [7345, 7346]
    assert state["projects"] == {"cursor": "2016-12-24T00:00:00Z"}


@responses.activate
def test_client_credentials_in_a_region_use_that_regions_oauth_and_api_hosts(xurrent, sleeps):
    token = responses.post("https://oauth.uk.xurrent.com/token",
                           json={"access_token": "issued-token-9", "token_type": "Bearer", "expires_in": 3600})
    mock_empty(*TABLES, host="https://api.uk.xurrent.com/v1")
    run_update(xurrent, {"account_id": "wna-it", "client_id": "app", "client_secret": "app-secret", "region": "uk"})
    assert token.call_count == 1
    for call in responses.calls:
        assert call.request.headers["X-Xurrent-Account"] == "wna-it"
    assert {urlsplit(c.request.url).netloc for c in responses.calls[1:]} == {"api.uk.xurrent.com"}


@responses.activate
def test_a_403_with_client_credentials_fails_at_once_without_a_new_token(xurrent, sleeps):
    token = responses.post("https://oauth.xurrent.com/token", json={"access_token": "t-1", "expires_in": 3600})
    responses.get(f"{HOST}/organizations", status=403, json={"message": "Forbidden"})
    with pytest.raises(HttpError) as error:
        run_update(xurrent, {"account_id": "widget", "client_id": "app", "client_secret": "app-secret"})
    assert error.value.status == 403 and token.call_count == 1 and len(calls_to("organizations")) == 1
    for cause in ("token", "scopes", "account_id", "region"):
        assert cause in str(error.value)


@responses.activate
@pytest.mark.parametrize("status, expected", [
    (401, "Xurrent refused the credentials: .*HTTP 401.*'region' \\(or 'base_url'\\) is not the account's region"),
    (403, "Xurrent refused the credentials: .*HTTP 403.*'account_id' is not the account the token belongs to"),
    (404, "Xurrent answered with an error: .*HTTP 404.*Check 'region' \\(or 'base_url'\\) and 'account_id'"),
])
def test_setup_test_at_the_wrong_region_or_account_names_what_to_check(xurrent, sleeps, status, expected):
    responses.get("https://api.au.xurrent.com/v1/organizations", status=status, json={"message": "Unauthorized"})
    result = xurrent.test_connection({**CONFIGURATION, "region": "au"})
    assert result.failure and __import__("re").search(expected, result.failure), result.failure
    assert PAT not in result.failure
    (call,) = responses.calls
    assert query_of(call)["per_page"] == "1" and call.request.headers["X-Xurrent-Account"] == "widget"


def test_the_edges_of_every_range_are_accepted(xurrent):
    low = xurrent.validate_configuration({**CONFIGURATION, "initial_sync_days": "1", "max_records_per_page": "1",
                                          "request_timeout_seconds": "10", "retry_attempts": "1"})
    high = xurrent.validate_configuration({**CONFIGURATION, "initial_sync_days": "365",
                                           "max_records_per_page": "100", "request_timeout_seconds": "300",
                                           "retry_attempts": "10", "enable_incremental_sync": "true"})
    assert (low.initial_sync_days, low.page_size, low.timeout_s, low.retry_attempts) == (1, 1, 10, 1)
    assert (high.initial_sync_days, high.page_size, high.timeout_s, high.retry_attempts) == (365, 100, 300, 10)
    assert high.incremental is True


WHOLE = 'a whole number (expected an integer such as 12 or "12")'
DECIMAL = 'a decimal number (expected text such as "320000.0")'
TIMESTAMP = 'a timestamp (expected ISO 8601 text such as "2016-03-22T21:02:50-05:00")'


@responses.activate
@pytest.mark.parametrize("table, changes, message", [
    ("organizations", {"created_at": "N/A"}, f"organizations.created_at (record id 2): 'N/A' is not {TIMESTAMP}"),
    ("organizations", {"created_at": 1458702170}, f"organizations.created_at (record id 2): 1458702170 is not "
                                                  f"{TIMESTAMP}"),
    ("organizations", {"disabled": "yes"}, "organizations.disabled (record id 2): 'yes' is not a boolean (true or "
                                           "false)"),
    ("organizations", {"parent": {"id": "N/A", "name": "Inc."}}, f"organizations.parent_id (record id 2): 'N/A' is "
                                                                 f"not {WHOLE}"),
    ("products", {"useful_life": "N/A"}, f"products.useful_life (record id 2): 'N/A' is not {WHOLE}"),
    ("products", {"useful_life": "1.5"}, f"products.useful_life (record id 2): '1.5' is not {WHOLE}"),
    ("products", {"useful_life": 12.5}, f"products.useful_life (record id 2): 12.5 is not {WHOLE}"),
    ("products", {"useful_life": True}, f"products.useful_life (record id 2): True is not {WHOLE}"),
    ("products", {"salvage_value": "N/A"}, f"products.salvage_value (record id 2): 'N/A' is not {DECIMAL}"),
    ("products", {"salvage_value": "1,000.00"}, f"products.salvage_value (record id 2): '1,000.00' is not {DECIMAL}"),
    ("products", {"rate": "NaN"}, f"products.rate (record id 2): 'NaN' is not {DECIMAL}"),
    ("projects", {"effort": "N/A" * 30}, f"projects.effort (record id 2): '{'N/A' * 12}... is not {WHOLE}"),
    ("projects", {"roi": "9223372036854775808"}, "projects.roi (record id 2): '9223372036854775808' is not in the "
                                                 "LONG range (-9223372036854775808 to 9223372036854775807)"),
    ("projects", {"id": "N/A"}, f"projects.id (record id 'N/A'): 'N/A' is not {WHOLE}"),
    ("projects", {"id": "1.0e-1"}, f"projects.id (record id '1.0e-1'): '1.0e-1' is not {WHOLE}"),
])
def test_a_value_of_the_wrong_kind_fails_naming_the_table_column_record_and_value(xurrent, sleeps, table, changes,
                                                                                   message):
    good = {"id": 1, "name": "A", "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z"}
    responses.get(f"{HOST}/{table}", json=[good, {**good, "id": 2, **changes}])
    mock_empty(*(name for name in TABLES if name != table))
    failed = Recorder()
    with pytest.raises(PayloadError) as error:
        run_update(xurrent, CONFIGURATION, recorder=failed)
    assert str(error.value) == message
    assert [row["id"] for row in failed.upserts(table)] == [1]  # the bad record is never written


def test_blanks_are_null_and_whole_numbers_in_any_form_are_integers(xurrent):
    products = [t for t in xurrent.__TABLES if t.name == "products"][0]
    blank = xurrent.to_row({"id": 33, "useful_life": "", "salvage_value": "", "rate": "  ", "created_at": "",
                            "support_team": {"id": "", "name": "Team"}, "updated_at": None}, products)
    assert [blank[name] for name in ("useful_life", "salvage_value", "rate", "created_at", "support_team_id")] == [
        None] * 5
    for whole in (12, 12.0, "12", " 12 ", "12.0", "+12"):
        row = xurrent.to_row({"id": "33", "useful_life": whole, "support_team": {"id": whole}}, products)
        assert (row["id"], row["useful_life"], row["support_team_id"]) == (33, 12, 12), whole
    numbers = xurrent.to_row({"id": 33.0, "salvage_value": 12.5, "rate": "1E+3"}, products)
    assert (numbers["id"], numbers["salvage_value"], numbers["rate"]) == (33, "12.5", "1000")
    unfit = xurrent.to_row({"id": 33, "salvage_value": " 1e999999 ", "rate": "0.12345670"}, products)
    assert (unfit["salvage_value"], unfit["salvage_value_raw"]) == (None, "1e999999")  # as sent, not a million digits
    assert (unfit["rate"], unfit["rate_raw"]) == (None, "0.12345670")
    assert xurrent.to_row({"id": 33, "rate": "0.1234560000"}, products)["rate"] == "0.1234560000"  # zeros: no loss
    with pytest.raises(PayloadError, match="products: a record with a blank id"):
        xurrent.to_row({"id": " ", "name": "A"}, products)
