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
