"""Deployable packages: what each zip holds, the offline dependency check, the masked deploy key, and each
package synced by ``fivetran debug`` from an empty folder in a fresh virtualenv."""

import importlib.metadata
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from sandbox import registry
from sandbox.server import Reply, Sandbox
from tests.harness import ROOT, existing_connectors
from tools import package as packaging

# Every test stages into a folder of its own (never the repository's build/), so they can run in any worker at
# once: pytest-xdist's grouping is not to be relied on (pytest 9.2 silently stopped honouring xdist_group).

CONNECTORS = existing_connectors()
SHARED_MODULES = sorted(p.name for p in (ROOT / "shared").glob("*.py"))


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """Every connector packaged once by ``python -m tools.package package`` (the code behind ``make package``)."""
    build = tmp_path_factory.mktemp("build")
    result = subprocess.run([sys.executable, "-m", "tools.package", "package", *CONNECTORS], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "DO_NOT_TRACK": "1",
                                                                 "SUITE_BUILD_DIR": str(build),
                                                                 "HOME": str(tmp_path_factory.mktemp("home"))})
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: build / f"{name}.zip" for name in CONNECTORS}


@pytest.mark.parametrize("name", CONNECTORS)
def test_each_zip_holds_the_connector_and_shared_and_nothing_else(packages, name):
    names = set(zipfile.ZipFile(packages[name]).namelist())
    assert {"connector.py", "requirements.txt", "README.md", "configuration_form.pb"} <= names
    assert {f"shared/{module}" for module in SHARED_MODULES} <= names
    own = {p.relative_to(ROOT / name).as_posix() for p in (ROOT / name).rglob("*.py")
           if "__pycache__" not in p.parts and "files" not in p.parts}
    assert own <= names
    for path in names:
        assert not path.startswith(("tests/", "sandbox/", "files/", "crash-reports/", "tools/")), path
        assert "__pycache__" not in path and not path.endswith(".pyc"), path
        assert not Path(path).name.startswith(("configuration.json", "configuration.local", "state.json")), path
    assert len(zipfile.ZipFile(packages[name]).read("configuration_form.pb")) > 0  # the setup form ships


@pytest.mark.parametrize("name", CONNECTORS)
def test_requirements_pass_the_dependency_check(name, tmp_path):
    project = packaging.stage(name, tmp_path / name)
    assert packaging.missing_requirements(project) == []


class PypiFake:
    """PyPI's JSON API as pipreqs asks it (``/<name>/json``), answered from the installed distributions."""

    name = "pypi"

    def handle(self, request):
        package = request.path.strip("/").removesuffix("/json")
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return Reply.json({"message": "Not Found"}, 404)
        return Reply.json({"info": {"name": package, "version": version, "package_url": f"https://pypi.org/{package}"},
                           "releases": {version: []}})


def validate_as_deploy_does(project: Path, monkeypatch, box) -> list[str]:
    """The SDK's validate_requirements_file as ``fivetran deploy`` runs it (is_deploy, interactive prompts), its
    pipreqs pointed at the PyPI fake; a prompt fails. Returns what it logged."""
    from fivetran_connector_sdk_cli import connector_helper

    real_run = subprocess.run

    def pipreqs_on_the_fake(command, *args, **kwargs):
        if command and command[0] == "pipreqs":
            command = [str(Path(sys.executable).parent / "pipreqs"), "--pypi-server", box.url("pypi") + "/",
                       *command[1:]]
        return real_run(command, *args, **kwargs)

    def no_prompt(prompt=""):
        raise AssertionError(f"the validation asked: {prompt}")

    logged = []
    monkeypatch.setattr(connector_helper.subprocess, "run", pipreqs_on_the_fake)
    monkeypatch.setattr("builtins.input", no_prompt)
    monkeypatch.setattr(connector_helper, "print_library_log", lambda message, *a, **k: logged.append(message))
    connector_helper.validate_requirements_file(str(project), True, "3.0.0")
    return logged


@pytest.mark.parametrize("name", CONNECTORS)
def test_the_sdks_own_deploy_time_dependency_validation_passes_without_a_prompt(name, tmp_path, monkeypatch, sandbox):
    box = sandbox(PypiFake())
    logged = validate_as_deploy_does(packaging.stage(name, tmp_path / name), monkeypatch, box)
    assert [r.path for r in box.requests_to("pypi")], "pipreqs asked the PyPI fake nothing"
    assert not any("fail" in line or "missing" in line.lower() or "not needed" in line for line in logged), logged
    assert any("Validation of requirements.txt completed" in line for line in logged), logged


def test_the_sdks_validation_would_prompt_for_an_unlisted_import(tmp_path, monkeypatch, sandbox):
    """The control for the test above: the same run notices a third-party import missing from requirements.txt."""
    project = packaging.stage("courier", tmp_path / "courier")
    (project / "extra.py").write_text("import jinja2\n")
    with pytest.raises(AssertionError, match="the validation asked"):
        validate_as_deploy_does(project, monkeypatch, sandbox(PypiFake()))


def test_the_dependency_check_catches_an_unlisted_import(tmp_path):
    project = packaging.stage("courier", tmp_path / "courier")
    (project / "extra.py").write_text("import jinja2\n")
    assert packaging.missing_requirements(project) == ["Jinja2"]
    (project / "requirements.txt").write_text("jinja2==3.1.6\n")
    assert packaging.missing_requirements(project) == []


class FivetranApiFake:
    """Just enough of Fivetran's REST API on 127.0.0.1 for the CLI to print its deploy line, then fail."""

    name = "v1"

    def handle(self, request):
        if request.path == "/groups":
            return Reply.json({"data": {"items": [{"id": "group_1", "name": "d"}]}})
        if request.path == "/groups/group_1/connectors":
            return Reply.json({"data": {"items": []}})  # no connection of that name yet
        return Reply.json({"code": "NotFound", "message": "not in this fake"}, 404)


def test_the_deploy_key_is_never_printed(tmp_path, sandbox):
    key = "CANARYdeploykey0123456789"
    box = sandbox(FivetranApiFake())
    home = tmp_path / "home"
    (home / ".fivetran" / "connector_sdk").mkdir(parents=True)
    (home / ".fivetran" / "connector_sdk" / "_config.json").write_text(
        json.dumps({"production_base_url": f"http://127.0.0.1:{box.port}"}))
    env = {**os.environ, "HOME": str(home), "CI": "true", "DO_NOT_TRACK": "1", "FIVETRAN_API_KEY": key,
           "SUITE_BUILD_DIR": str(tmp_path / "build")}
    result = subprocess.run([sys.executable, "-m", "tools.package", "deploy", "courier", "--destination", "d",
                             "--connection", "c", "--force"],  # --force: no prompt, and no pipreqs (offline)
                            cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert "fivetran deploy --destination d --connection c --api-key ****" in output
    assert key not in output and key[:8] not in output
    assert result.returncode != 0


def test_mask_removes_the_key_and_its_prefix():
    assert packaging.mask("--api-key ABCDEFGH******** and ABCDEFGHIJK", "ABCDEFGHIJK") == \
        "--api-key **************** and ********"


@pytest.mark.e2e
def test_each_package_syncs_from_an_empty_folder_in_a_fresh_virtualenv(packages, tmp_path):
    """Only fivetran-connector-sdk, requests and the package's requirements.txt are installed."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirement_files = []
    for name in CONNECTORS:
        folder = tmp_path / "unpacked" / name
        zipfile.ZipFile(packages[name]).extractall(folder)
        requirement_files += ["-r", str(folder / "requirements.txt")]
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "fivetran-connector-sdk==3.0.0", "requests", *requirement_files],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    home = packaging.quiet_home(tmp_path / "home")
    env = {**os.environ, "HOME": str(home), "DO_NOT_TRACK": "1", "PYTHONPATH": "",
           "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    names = [n for n in CONNECTORS if n in registry.available()]
    with Sandbox(*(registry.make_fake(n) for n in names)) as box:
        runs = {}
        for name in names:
            folder = tmp_path / "unpacked" / name
            (folder / "configuration.json").write_text(json.dumps(box.configuration(name)))
            runs[name] = subprocess.Popen([str(venv / "bin" / "fivetran"), "debug"], cwd=folder, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 240
        outputs = {name: run.communicate(timeout=max(1, deadline - time.time()))[0] for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, f"{name}:\n{outputs[name][-3000:]}"
        assert "SYNC SUCCEEDED" in outputs[name]
        import duckdb

        database = duckdb.connect(str(tmp_path / "unpacked" / name / "files" / "warehouse.db"), read_only=True)
        try:
            tables = database.execute("select table_name from information_schema.tables "
                                      "where table_schema = 'tester'").fetchall()
            assert tables, f"{name} wrote no table"
            for (table,) in tables:
                assert database.execute(f'select count(*) from tester."{table}"').fetchone()[0] > 0, (name, table)
        finally:
            database.close()
