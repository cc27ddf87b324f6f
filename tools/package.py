"""Stage, check, package and deploy connectors: ``fivetran deploy`` zips only the connector's own folder.

    python -m tools.package stage|check|package [connector ...]     (all connectors when none is named)
    python -m tools.package deploy <connector> [fivetran deploy arguments ...]

``stage`` builds ``build/<connector>/``: the connector folder (without configuration files, ``files/``,
crash reports or caches) plus a copy of ``shared/`` (its modules only). ``check`` applies the SDK's dependency
rule offline (its own check asks PyPI through pipreqs): every third-party import of the staged folder must be
pre-installed on Fivetran (``fivetran_connector_sdk``, ``requests``) or listed in ``requirements.txt``.
``package`` stages, checks, then runs the SDK's own packager (``fivetran package``) there and copies the zip to
``build/<connector>.zip``.
``deploy`` stages, checks and runs ``fivetran deploy`` on the staged folder; the deploy key comes from
``--api-key`` or ``FIVETRAN_API_KEY`` exactly as the CLI takes it, and is masked in everything printed.
"""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SUITE_BUILD_DIR") or ROOT / "build")  # tests build elsewhere, one folder each
CONNECTORS = ("pindrop", "courier", "customer_thermometer", "aroflo", "xurrent")
PREINSTALLED = {"fivetran_connector_sdk", "fivetran-connector-sdk", "requests"}
_LEFT_OUT = shutil.ignore_patterns("configuration*.json", "files", "crash-reports", "__pycache__", "*.pyc",
                                   "tests", ".*", "state.json", "debug.log", "tmp_requirements.txt")
MASK = "********"


def stage(name: str, target: Path | None = None) -> Path:
    """A deployable copy of one connector: its folder plus shared/."""
    if not (ROOT / name / "connector.py").exists():
        raise SystemExit(f"no connector named {name!r} (expected {ROOT / name / 'connector.py'})")
    project = target or BUILD / name
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT / name, project, ignore=_LEFT_OUT)
    shutil.copytree(ROOT / "shared", project / "shared", ignore=_LEFT_OUT)
    return project


def quiet_home(home: Path) -> Path:
    """A HOME for the fivetran CLI whose version checks count as done, so it calls nothing but 127.0.0.1."""
    far_future_epoch = "9999999999"
    (home / ".fivetran" / "connector_sdk").mkdir(parents=True, exist_ok=True)
    (home / ".fivetran" / "connector_sdk_core").mkdir(parents=True, exist_ok=True)
    (home / ".fivetran" / "connector_sdk" / "_last_version_check").write_text(far_future_epoch)
    (home / ".fivetran" / "connector_sdk_core" / "_config.json").write_text(
        f'{{"lastVersionCheck": {far_future_epoch}}}')
    return home


def requirements(project: Path) -> set[str]:
    path = project / "requirements.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return {re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in lines if line.strip() and not line.strip().startswith("#")}


def third_party_imports(project: Path) -> set[str]:
    """Top-level modules imported anywhere in the folder that are neither stdlib nor the folder's own."""
    local = {p.stem for p in project.glob("*.py")} | {p.name for p in project.iterdir() if (p / "__init__.py").exists()}
    imported = set()
    for source in project.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    return {name for name in imported if name not in sys.stdlib_module_names and name not in local}


def missing_requirements(project: Path) -> list[str]:
    """Distributions the SDK's dependency check would ask for: imported, not pre-installed, not listed.

    The same rule as the SDK's pipreqs step, computed offline: imports mapped to their installed distributions.
    """
    distributions = importlib.metadata.packages_distributions()
    allowed = {name.lower().replace("_", "-") for name in PREINSTALLED} | requirements(project)
    missing = set()
    for module in third_party_imports(project):
        names = distributions.get(module, [module])
        if not any(name.lower().replace("_", "-") in allowed for name in names):
            missing.add(names[0])
    return sorted(missing)


def check(name: str) -> Path:
    project = stage(name)
    missing = missing_requirements(project)
    if missing:
        raise SystemExit(f"{name}: imports not covered by requirements.txt: {', '.join(missing)}")
    print(f"{name}: dependencies ok (only pre-installed packages are imported; requirements.txt covers the rest)")
    return project


def package(name: str) -> Path:
    """Stage, check, then the SDK's packager (dependency validation already done offline above)."""
    project = check(name)
    result = _fivetran(["package", str(project), "--force"])
    if result.returncode != 0:
        raise SystemExit(f"{name}: fivetran package failed:\n{result.stdout}{result.stderr}")
    built = project / "files" / f"{project.name}.zip"
    target = BUILD / f"{name}.zip"
    shutil.copyfile(built, target)
    print(f"{name}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return target


def deploy(name: str, arguments: list[str]) -> int:
    """``fivetran deploy`` on the staged folder, with the deploy key masked in its output."""
    project = check(name)
    key = _deploy_key(arguments)
    process = subprocess.Popen([_tool("fivetran"), "deploy", str(project), *arguments], env=_cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print(mask(line, key), end="")
    return process.wait()


def mask(text: str, key: str | None) -> str:
    """Remove the deploy key, and the prefix of it the CLI prints, from a line of output."""
    if key:
        text = text.replace(key, MASK)
        if len(key) >= 8:
            text = text.replace(key[:8], MASK)
    return text


def _deploy_key(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == "--api-key" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--api-key="):
            return argument.split("=", 1)[1]
    return os.environ.get("FIVETRAN_API_KEY")


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _cli_env() -> dict:
    return {**os.environ, "DO_NOT_TRACK": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _fivetran(arguments: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("fivetran"), *arguments], env=_cli_env(), capture_output=True, text=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("stage", "check", "package", "deploy"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "deploy":
        if not rest:
            raise SystemExit("name the connector to deploy: make deploy CONNECTOR=<name> ARGS='...'")
        return deploy(rest[0], rest[1:])
    names = rest or [n for n in CONNECTORS if (ROOT / n / "connector.py").exists()]
    for name in names:
        {"stage": stage, "check": check, "package": package}[command](name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
