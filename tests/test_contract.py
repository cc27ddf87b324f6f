"""The contract every connector keeps, checked the same way for each one that exists.

- every table it upserts is declared in ``schema()`` with a primary key, and no primary-key value is null;
- every checkpoint is JSON, and its cursors (keys ``cursor``, ``*_cursor``, ``watermark*``, ``last_*``) never go
  backwards, within a sync or into the next one;
- a sync that succeeds ends with a checkpoint of the state it finished with (no row or cursor left uncommitted);
- the placeholders of its ``configuration.json`` are rejected;
- its ``update()`` runs outside the SDK's runner too (no log level set, only ``upsert``/``checkpoint`` stood in);
- a canary secret in every secret field of its setup form never appears in captured output, in an exception, or
  in any file a run writes (state, warehouse, crash report), whether the sync succeeds or fails.
"""

import json
from pathlib import Path

import pytest
from fivetran_connector_sdk import Logging, Operations

from sandbox import registry
from shared.state import StateError
from tests.harness import (
    ROOT,
    LocalRunner,
    Recorder,
    canary_secrets,
    existing_connectors,
    load_connector,
    run_update,
    secret_keys,
)

CONNECTORS = [name for name in existing_connectors() if name in registry.available()]
def cursors(state: dict, path: str = "") -> dict[str, object]:
    """Leaf values under keys named cursor / *_cursor / watermark*, by their path in the state."""
    found = {}
    for key, value in state.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            found.update(cursors(value, where))
        elif value is not None and (key in ("cursor",) or key.endswith("_cursor")
                                    or key.startswith(("watermark", "last_"))):
            found[where] = value
    return found


def assert_never_backwards(states: list[dict]) -> None:
    seen: dict[str, object] = {}
    for state in states:
        for where, value in cursors(state).items():
            if where in seen:
                assert value >= seen[where], f"cursor {where} went back from {seen[where]!r} to {value!r}"
            seen[where] = value


@pytest.fixture(params=CONNECTORS)
def connector_name(request):
    return request.param


def test_a_connector_exists_for_the_contract():
    assert "courier" in CONNECTORS


def test_schema_declares_every_table_with_a_primary_key(connector_name):
    module = load_connector(connector_name)
    tables = module.schema({})
    names = [t["table"] for t in tables]
    assert len(names) == len(set(names))
    for table in tables:
        assert table.get("primary_key"), f"{table['table']} has no primary key"


def test_upserted_tables_are_declared_keys_are_never_null_and_cursors_never_go_back(connector_name, sandbox,
                                                                                     sleeps):
    module = load_connector(connector_name)
    box = sandbox(registry.make_fake(connector_name))
    configuration = box.configuration(connector_name)
    declared = {t["table"]: t["primary_key"] for t in module.schema(configuration)}
    first, state = run_update(module, configuration)
    second, _ = run_update(module, configuration, state)
    for recorder in (first, second):
        for kind, table, data in recorder.operations:
            if kind in ("upsert", "update", "delete"):
                assert table in declared, f"{table} is not declared in schema()"
                missing = [k for k in declared[table] if data.get(k) in (None, "")]
                assert not missing, f"{table}: null primary key {missing} in {data}"
    assert set(declared) <= first.tables(), "a declared table received no rows from the fake"
    assert first.checkpoints, "a sync must checkpoint"
    for checkpoint in first.checkpoints + second.checkpoints:
        json.dumps(checkpoint)
    assert_never_backwards(first.checkpoints + second.checkpoints)


def test_a_successful_sync_ends_with_a_checkpoint_of_the_state_it_finished_with(connector_name, sandbox, sleeps):
    """A table whose sync forgets its closing checkpoint leaves its last rows and its final cursor to nobody."""
    module = load_connector(connector_name)
    configuration = sandbox(registry.make_fake(connector_name)).configuration(connector_name)
    state: dict = {}
    for sync in ("first", "second"):
        recorder, original = Recorder(), module.op
        module.op = recorder
        try:
            module.update(configuration, state)
        finally:
            module.op = original
        last = [kind for kind, _, _ in recorder.operations if kind != "warning"][-1]
        assert last == "checkpoint", f"{sync} sync: a {last} after the last checkpoint"
        assert recorder.checkpoints[-1] == state, f"{sync} sync: the state update() ended with was not checkpointed"
        state = json.loads(json.dumps(state))


def with_value(state: dict, path: str, value) -> dict:
    """A copy of ``state`` with the leaf at ``path`` (dotted, as ``cursors`` names it) replaced."""
    copy = json.loads(json.dumps(state))
    *parents, leaf = path.split(".")
    holder = copy
    for key in parents:
        holder = holder[key]
    holder[leaf] = value
    return copy


def test_a_saved_state_the_connector_did_not_write_fails_naming_what_to_reset(connector_name, sandbox, sleeps):
    """Hand-edited or foreign state: a table's entry that is not an object, a cursor that is a number or words.
    The sync neither crashes with a bare parsing error nor skips rows: it fails naming the value to reset."""
    module = load_connector(connector_name)
    box = sandbox(registry.make_fake(connector_name))
    configuration = box.configuration(connector_name)
    _, state = run_update(module, configuration)
    assert cursors(state), "the sync left no cursor to tamper with"
    broken = [({**state, table: "not an object"}, repr(table)) for table in state]
    broken += [(with_value(state, where, bad), where.rsplit(".", 1)[-1])
               for where in cursors(state) for bad in (-1, "not a cursor")]
    for bad_state, named in broken:
        with pytest.raises(StateError, match=f"saved state's .*{named}.* reset the connector's state"):
            run_update(module, configuration, bad_state)


def test_update_runs_without_the_sdk_runner(connector_name, sandbox, sleeps, monkeypatch):
    """A direct ``update()`` call, as a script or another team's test makes it: no log level set, and only the
    SDK's ``upsert`` and ``checkpoint`` stood in for (a truncate then has no runner to go to)."""
    upserts, checkpoints = [], []
    monkeypatch.setattr(Logging, "LOG_LEVEL", None)
    monkeypatch.setattr(Operations, "upsert", staticmethod(lambda table, data, **_: upserts.append(table)))
    monkeypatch.setattr(Operations, "checkpoint", staticmethod(checkpoints.append))
    module = load_connector(connector_name)
    box = sandbox(registry.make_fake(connector_name))
    configuration = box.configuration(connector_name)
    module.update(configuration, {})
    assert set(upserts) == {table["table"] for table in module.schema(configuration)}
    assert checkpoints and Logging.LOG_LEVEL == Logging.Level.INFO


def test_the_configuration_template_is_rejected(connector_name):
    module = load_connector(connector_name)
    template = json.loads((ROOT / connector_name / "configuration.json").read_text())
    assert all(isinstance(v, str) for v in template.values()), "configuration values must be strings"
    with pytest.raises(ValueError, match="placeholder"):
        module.validate_configuration(template)
    recorder = Recorder()
    with pytest.raises(ValueError):
        run_update(module, template, recorder=recorder)
    assert recorder.operations == [], "a template must never sync anything"


def test_the_template_with_only_its_required_keys_filled_in_syncs(connector_name, sandbox, sleeps):
    """The optional keys' <OPTIONAL_...> placeholders mean "use the default"; only the others must be replaced."""
    module = load_connector(connector_name)
    template = json.loads((ROOT / connector_name / "configuration.json").read_text())
    box = sandbox(registry.make_fake(connector_name))
    optional = {key for key, value in template.items() if value.upper().startswith("<OPTIONAL")}
    credentials = set(secret_keys(module))  # (one of two sign-in modes may be written as optional)
    filled = {key: value for key, value in box.configuration(connector_name).items()
              if key not in optional or key in credentials or key.endswith("_url")}  # (URLs: the local fake)
    assert optional - set(filled), "the template has no optional key left at its placeholder"
    recorder, _ = run_update(module, {**template, **filled})
    assert recorder.tables()


def files_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_canary_secrets_never_leak_from_a_run_that_succeeds_or_fails(connector_name, sandbox, sleeps, tmp_path,
                                                                     monkeypatch, capfd):
    module = load_connector(connector_name)
    secrets = canary_secrets(module, connector_name)
    assert secrets, "the setup form marks no field as a password"
    box = sandbox(registry.make_fake(connector_name, **secrets))
    configuration = box.configuration(connector_name)
    assert all(configuration[key] == value for key, value in secrets.items())
    runner = LocalRunner(connector_name, tmp_path, monkeypatch)
    assert runner.sync(configuration), "the sync with canary credentials failed"
    box.faults.add(connector_name, "/", "status", status=500, times=2)  # requests 1-2: retried
    box.faults.add(connector_name, "/", "reset", times=1)  # request 3: retried
    box.faults.add(connector_name, "/", "status", times=None, status=400)  # from request 4: fails the sync
    assert not runner.sync(configuration), "a persistent 400 must fail the sync"
    assert (runner.project / "crash-reports").exists()
    unreachable = {**configuration, **{k: "http://127.0.0.1:9" for k in configuration if k.endswith("url")}}
    setup_tests = [func for _, func in module.configuration_form()._tests]
    assert setup_tests, "the setup form registers no setup test"
    failure = setup_tests[0](unreachable)
    captured = capfd.readouterr()
    written = files_text(runner.project / "files")
    crash_reports = runner.project / "crash-reports"
    written += files_text(crash_reports) if crash_reports.exists() else ""
    for key, canary in secrets.items():
        for where, text in (("stdout", captured.out), ("stderr", captured.err), ("files", written),
                            ("setup test", str(failure.failure))):
            assert canary not in text, f"the {key} canary leaked into {where}"
