"""tools/package.py: what a connector folder a user has run locally must not ship (a filled configuration under
another name, a state, the local warehouse, a .env, logs, a previous stage's leftovers), `check` stopping on an
unlisted import, and the deploy key masked however it is passed."""

import shutil
import subprocess
import zipfile

import pytest

from tests.harness import ROOT
from tools import package as packaging

CANARY = "CANARYsecret0123456789"


@pytest.fixture
def used_root(tmp_path, monkeypatch):
    """A copy of the project whose courier folder holds what `fivetran debug` and a user leave behind."""
    root = tmp_path / "root"
    for name in ("courier", "shared"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "files"))
    folder = root / "courier"
    secret = f'{{"api_key": "{CANARY}"}}'
    (folder / "configuration.json").write_text(secret)
    (folder / "configuration.local.json").write_text(secret)
    (folder / "configuration-prod.json").write_text(secret)
    (folder / "state.json").write_text('{"cursor": 1}')
    (folder / "debug.log").write_text(f"api_key={CANARY}")
    (folder / ".env").write_text(f"API_KEY={CANARY}")
    (folder / "files").mkdir()
    (folder / "files" / "state.json").write_text('{"cursor": 1}')
    (folder / "files" / "warehouse.db").write_bytes(b"rows")
    (folder / "crash-reports").mkdir()
    (folder / "crash-reports" / "crash_1.log").write_text(CANARY)
    monkeypatch.setattr(packaging, "ROOT", root)
    monkeypatch.setattr(packaging, "BUILD", tmp_path / "build")
    return root


LEFT_OUT = {"configuration.json", "configuration.local.json", "configuration-prod.json", "state.json", "debug.log",
            ".env", "files", "crash-reports"}


def test_stage_leaves_out_configurations_state_logs_dotfiles_and_local_output(used_root, tmp_path):
    target = tmp_path / "staged"
    target.mkdir()
    (target / "old_module.py").write_text("# from an earlier stage\n")  # a previous stage's leftover
    project = packaging.stage("courier", target)
    names = {p.relative_to(project).as_posix() for p in project.rglob("*")}
    assert not {n for n in names if n.split("/")[0] in LEFT_OUT}, names
    assert "old_module.py" not in names
    assert {"connector.py", "requirements.txt", "README.md", "shared/http_client.py"} <= names
    for path in project.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_the_package_zip_holds_no_secret_of_a_used_folder(used_root, tmp_path, monkeypatch):
    home = packaging.quiet_home(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    built = packaging.package("courier")
    archive = zipfile.ZipFile(built)
    names = set(archive.namelist())
    assert not {n for n in names if n.split("/")[0] in LEFT_OUT}, names
    assert not [n for n in names if CANARY.encode() in archive.read(n)]


def test_check_stops_on_an_import_requirements_txt_does_not_cover(used_root):
    (used_root / "courier" / "extra.py").write_text("import jinja2\n")
    with pytest.raises(SystemExit, match="courier: imports not covered by requirements.txt: Jinja2"):
        packaging.main(["check", "courier"])
    with pytest.raises(SystemExit, match="Jinja2"):
        packaging.main(["package", "courier"])


class _EchoProcess:
    """Stands in for the `fivetran deploy` process: prints its command line, key included, as the CLI may."""

    def __init__(self, command, **_):
        self.stdout = iter([" ".join(command) + "\n", f"deploy key prefix {command[-1][:8]}\n"])

    def wait(self):
        return 0


@pytest.mark.parametrize("arguments", [["--api-key", CANARY], [f"--api-key={CANARY}"]])
def test_the_deploy_key_is_masked_in_both_argument_forms(arguments, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("FIVETRAN_API_KEY", raising=False)
    monkeypatch.setattr(packaging, "check", lambda name: tmp_path)
    monkeypatch.setattr(subprocess, "Popen", _EchoProcess)
    assert packaging.deploy("courier", ["--destination", "d", *arguments]) == 0
    out = capsys.readouterr().out
    assert CANARY not in out and CANARY[:8] not in out and packaging.MASK in out
