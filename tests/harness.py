"""Helpers for connector tests: load a connector module, and record what it emits instead of the SDK runner."""

import copy
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONNECTORS = ("courier", "pindrop", "customer_thermometer", "aroflo", "xurrent")


def existing_connectors() -> list[str]:
    return [name for name in CONNECTORS if (ROOT / name / "connector.py").exists()]


PASSWORD_FIELD = 1  # form_field.TextField.password


def secret_keys(module) -> list[str]:
    """Configuration keys the connector's setup form marks as passwords."""
    return [f.name for f in module.configuration_form().to_response().fields if f.text_field == PASSWORD_FIELD]


def canary_secrets(module, name: str, **fake_options) -> dict[str, str]:
    """A canary for every secret the fake's own configuration uses (e.g. one of two alternative auth modes)."""
    from sandbox import registry

    used = registry.make_fake(name, **fake_options).configuration("http://127.0.0.1:1")
    return {key: f"CANARY{abs(hash((name, key))) % 10**8:08d}{key.upper()}"
            for key in secret_keys(module) if key in used}


def load_connector(name: str):
    """Import ``<name>/connector.py`` under a unique module name (five files are all called connector.py)."""
    spec = importlib.util.spec_from_file_location(f"connector_{name}", ROOT / name / "connector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Stands in for ``fivetran_connector_sdk.Operations``: records every operation in order.

    ``table(name, key)`` replays them like the destination does (upserts by primary key, soft deletes) and
    returns the live rows by key; ``checkpoints`` holds a deep copy of every checkpointed state.
    """

    def __init__(self):
        self.operations: list[tuple[str, str | None, object]] = []
        self.checkpoints: list[dict] = []

    def upsert(self, table, data, **_):
        self.operations.append(("upsert", table, dict(data)))

    def update(self, table, modified, **_):
        self.operations.append(("update", table, dict(modified)))

    def delete(self, table, keys, **_):
        self.operations.append(("delete", table, dict(keys)))

    def truncate(self, table, **_):
        self.operations.append(("truncate", table, None))

    def checkpoint(self, state):
        json.dumps(state)  # a checkpoint must be JSON
        snapshot = copy.deepcopy(state)
        self.checkpoints.append(snapshot)
        self.operations.append(("checkpoint", None, snapshot))

    def warning(self, message):
        self.operations.append(("warning", None, message))

    def upserts(self, table: str) -> list[dict]:
        return [data for kind, name, data in self.operations if kind == "upsert" and name == table]

    def tables(self) -> set[str]:
        return {name for kind, name, _ in self.operations if name is not None}

    def table(self, name: str, key: list[str], live_only: bool = True) -> dict[tuple, dict]:
        rows: dict[tuple, dict] = {}
        deleted: set[tuple] = set()
        for kind, table, data in self.operations:
            if table != name:
                continue
            if kind == "truncate":
                deleted |= set(rows)
            elif kind in ("upsert", "update"):
                pk = tuple(data.get(k) for k in key)
                rows[pk] = {**rows.get(pk, {}), **data} if kind == "update" else data
                deleted.discard(pk)
            elif kind == "delete":
                deleted.add(tuple(data.get(k) for k in key))
        return {pk: row for pk, row in rows.items() if not (live_only and pk in deleted)}


def run_update(module, configuration: dict, state: dict | None = None,
               recorder: Recorder | None = None) -> tuple[Recorder, dict]:
    """Run ``module.update`` with a Recorder as ``op``.

    Returns the recorder and the state the next sync would get: the last checkpoint (or the input state when
    nothing was checkpointed), exactly as the platform does. Pass a ``recorder`` to inspect it after a failure.
    """
    recorder = recorder or Recorder()
    state = copy.deepcopy(state or {})
    original = module.op
    module.op = recorder
    try:
        module.update(configuration, copy.deepcopy(state))
    finally:
        module.op = original
    return recorder, (copy.deepcopy(recorder.checkpoints[-1]) if recorder.checkpoints else state)


class LocalRunner:
    """Runs a connector through the SDK's own local runner (what ``fivetran debug`` does), in this process.

    The project is a temporary copy of the connector folder plus ``shared/`` (the deployed layout). Rows land
    in ``files/warehouse.db`` (DuckDB, schema ``tester``) and state in ``files/state.json``. The SDK's network
    calls (version checks, pipreqs) are patched out; HOME points at a temporary folder.
    """

    def __init__(self, name: str, tmp_path: Path, monkeypatch, project_name: str | None = None):
        """``tmp_path / project_name`` (default: the connector's name) is created unless it exists already."""
        import shutil

        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setattr("fivetran_connector_sdk_cli.connector.check_newer_version", lambda *a, **k: None)
        monkeypatch.setattr("fivetran_connector_sdk_cli.connector.validate_requirements_file", lambda *a, **k: None)
        monkeypatch.setattr("fivetran_connector_sdk_core.runner.check_newer_version", lambda *a, **k: None)
        self.project = tmp_path / (project_name or name)
        if not self.project.exists():
            shutil.copytree(ROOT / name, self.project, ignore=shutil.ignore_patterns("files", "__pycache__"))
            shutil.copytree(ROOT / "shared", self.project / "shared", ignore=shutil.ignore_patterns("__pycache__"))
        module_name = f"connector_{name}_{self.project.name}"
        spec = importlib.util.spec_from_file_location(module_name, self.project / "connector.py")
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)

    @property
    def state(self) -> dict:
        path = self.project / "files" / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def sync(self, configuration: dict, state: dict | None = None) -> bool:
        """One sync from ``state`` (default: the state the last sync left). True if it succeeded."""
        connector = self.module.connector
        connector._debug_crash_report = None
        try:
            connector.debug(project_path=str(self.project), configuration=dict(configuration),
                            state=copy.deepcopy(self.state if state is None else state))
        except SystemExit as exit_:
            connector._print_debug_crash_report()  # now, into <project>/crash-reports, not at interpreter exit
            if exit_.code not in (0, None):
                return False
        return True

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        connection = duckdb.connect(str(self.project / "files" / "warehouse.db"), read_only=True)
        try:
            connection.execute("SET TimeZone = 'UTC'")  # timestamps read as text in UTC, whatever the host's zone
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def tables(self) -> list[str]:
        return [name for (name,) in self.query(
            "select table_name from information_schema.tables where table_schema = 'tester' order by 1")]

    def snapshot(self, volatile: dict | None = None) -> dict[str, list[tuple]]:
        """Every live row of every table, sorted, without ``_fivetran_synced`` and the ``volatile`` columns of each
        table (values that record when a sync ran): two warehouses of the same source compare equal."""
        result = {}
        for table in self.tables():
            skip = {"_fivetran_synced", *(volatile or {}).get(table, ())}
            rows = [{k: v for k, v in row.items() if k not in skip} for row in self.rows(table)]
            result[table] = sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in rows)
        return result

    def rows(self, table: str, live_only: bool = True) -> list[dict]:
        """Every row of ``tester.<table>`` as a dict; timestamps as text (reading them needs pytz otherwise)."""
        columns = [(name, kind) for name, kind in self.query(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'tester' and table_name = '{table}' order by ordinal_position")]
        select = ", ".join(f'CAST("{n}" AS VARCHAR)' if "TIME" in k else f'"{n}"' for n, k in columns)
        has_deleted_flag = any(name == "_fivetran_deleted" for name, _ in columns)
        where = " where not _fivetran_deleted" if live_only and has_deleted_flag else ""
        return [dict(zip([n for n, _ in columns], values, strict=True))
                for values in self.query(f"select {select} from tester.\"{table}\"{where}")]
