"""Xurrent through the SDK's own local runner (as `fivetran debug` runs it) into DuckDB: types, values, resume."""

from decimal import Decimal

from sandbox.xurrent import XurrentFake
from tests.harness import LocalRunner


def column_types(runner: LocalRunner, table: str) -> dict:
    return dict(runner.query("select column_name, data_type from information_schema.columns "
                             f"where table_schema = 'tester' and table_name = '{table}'"))


def test_warehouse_types_and_values_are_exact_and_the_next_sync_is_incremental(tmp_path, monkeypatch, sandbox,
                                                                                 sleeps):
    runner = LocalRunner("xurrent", tmp_path, monkeypatch)
    fake = XurrentFake(counts={"organizations": 120, "products": 30, "projects": 30})
    box = sandbox(fake)
    configuration = box.configuration("xurrent")
    assert runner.sync(configuration)
    assert runner.tables() == ["organizations", "products", "projects"]
    products = column_types(runner, "products")
    assert products["salvage_value"] == "DECIMAL(38,6)" and products["disabled"] == "BOOLEAN"
    assert products["updated_at"] == "TIMESTAMP WITH TIME ZONE" and products["custom_fields"] == "JSON"
    assert products["service_provider_id"] == "BIGINT" and products["product_id"] == "VARCHAR"
    assert column_types(runner, "projects")["total_cost"] == "DECIMAL(38,6)"
    rows = {row["id"]: row for row in runner.rows("products")}
    assert rows[200000]["salvage_value"] == Decimal("320000.0") and rows[200001]["salvage_value"] == Decimal(
        "320007.25")
    assert rows[200003]["disabled"] is True and rows[200001]["disabled"] is False
    assert rows[200000]["updated_at"].startswith("2024-01-01 00:00:00")
    organizations = {row["id"]: row for row in runner.rows("organizations")}
    assert len(organizations) == 120 and organizations[1009]["parent_id"] == 1003
    first_state = runner.state
    assert first_state["organizations"]["cursor"].endswith("Z")

    fake.control_mutate("organizations", update=[1001])
    box.requests.clear()
    assert runner.sync(configuration)
    assert all("updated_at" in r.query for r in box.requests_to("xurrent", "/v1/"))
    organizations = {row["id"]: row for row in runner.rows("organizations")}
    assert len(organizations) == 120 and organizations[1001]["name"].endswith("(edited)")
    assert runner.state["organizations"]["cursor"] > first_state["organizations"]["cursor"]


def test_a_decimal_the_column_cannot_hold_exactly_lands_as_text_in_its_raw_column(tmp_path, monkeypatch, sandbox,
                                                                                 sleeps, log):
    runner = LocalRunner("xurrent", tmp_path, monkeypatch)
    monkeypatch.setattr(runner.module, "log", log)
    fake = XurrentFake(counts={"organizations": 1, "products": 5, "projects": 2})
    most = "-" + "9" * 32 + ".123456"  # 32 digits before the point and 6 after: the most DECIMAL(38,6) holds
    fake.edits["products"] = {200000: {"salvage_value": "0.1234567"}, 200001: {"salvage_value": "1" + "0" * 32},
                              200002: {"salvage_value": "320000.1000000"}, 200003: {"salvage_value": most},
                              200004: {"salvage_value": "0.1234567890123456789"}}
    fake.edits["projects"] = {500000: {"total_cost": "0.0000001"}}
    assert runner.sync(sandbox(fake).configuration("xurrent"))
    assert column_types(runner, "products")["salvage_value_raw"] == "VARCHAR"
    rows = {row["id"]: (row["salvage_value"], row["salvage_value_raw"]) for row in runner.rows("products")}
    assert rows == {200000: (None, "0.1234567"), 200001: (None, "1" + "0" * 32),
                    200002: (Decimal("320000.1"), None), 200003: (Decimal(most), None),
                    200004: (None, "0.1234567890123456789")}
    (project,) = [row for row in runner.rows("projects") if row["id"] == 500000]
    assert (project["total_cost"], project["total_cost_raw"]) == (None, "0.0000001")
    warnings = [message for level, message in log.lines if level == "WARNING"]
    assert warnings == [
        "products.salvage_value (record id 200000): '0.1234567' has more digits than DECIMAL(38,6) holds (6 after "
        "the point, 32 before it); it is kept exactly in salvage_value_raw and salvage_value is null (further such "
        "values of this walk are not logged)",
        "projects.total_cost (record id 500000): '0.0000001' has more digits than DECIMAL(38,6) holds (6 after the "
        "point, 32 before it); it is kept exactly in total_cost_raw and total_cost is null (further such values of "
        "this walk are not logged)"]


def test_text_that_looks_like_a_flag_or_a_number_lands_as_the_text_sent(tmp_path, monkeypatch, sandbox, sleeps):
    runner = LocalRunner("xurrent", tmp_path, monkeypatch)
    fake = XurrentFake(counts={"organizations": 4, "products": 4, "projects": 4})
    # The first row of each table: the destination would type an undeclared column from it ("T": a flag).
    fake.edits["organizations"] = {1000: {"name": "T", "region": "1.10", "sourceID": "F", "financialID": "12",
                                          "manager": {"id": 7001, "name": "T", "account": {"id": "1.10", "name": "F"}}}}
    fake.edits["products"] = {200000: {"brand": "T", "model": "1.10", "category": "f", "productID": "10"}}
    fake.edits["projects"] = {500000: {"subject": "T", "status": "1.10", "time_zone": "true"}}
    assert runner.sync(sandbox(fake).configuration("xurrent"))
    expected = {
        "organizations": {1000: {"name": "T", "region": "1.10", "source_id": "F", "financial_id": "12",
                                 "manager_name": "T", "manager_account_id": "1.10", "manager_account_name": "F"}},
        "products": {200000: {"brand": "T", "model": "1.10", "category": "f", "product_id": "10"}},
        "projects": {500000: {"subject": "T", "status": "1.10", "time_zone": "true"}},
    }
    for table, by_id in expected.items():
        types = column_types(runner, table)
        rows = {row["id"]: row for row in runner.rows(table)}
        for row_id, values in by_id.items():
            assert {name: rows[row_id][name] for name in values} == values, table
            assert {types[name] for name in values} == {"VARCHAR"}, table


def test_a_value_of_the_wrong_kind_fails_the_sync_with_the_connectors_message(tmp_path, monkeypatch, sandbox,
                                                                              sleeps, capfd):
    runner = LocalRunner("xurrent", tmp_path, monkeypatch)
    fake = XurrentFake(counts={"organizations": 1, "products": 3, "projects": 1})
    fake.edits["products"] = {200001: {"useful_life": 12.5}}
    assert not runner.sync(sandbox(fake).configuration("xurrent"))
    printed = "".join(capfd.readouterr())
    assert 'products.useful_life (record id 200001): 12.5 is not a whole number (expected an integer such as 12' \
           in printed
    assert "Long column requires int" not in printed
    assert 200001 not in {row["id"] for row in runner.rows("products")}
