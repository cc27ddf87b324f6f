"""``make demo``: sync every connector through the real ``fivetran debug`` CLI against its local fake.

For each connector that exists and has a fake: stage ``build/demo/<connector>/`` (the connector folder plus a copy
of ``shared/``, as it is deployed), write a configuration pointing at the sandbox, run ``fivetran debug`` there,
then read ``files/warehouse.db`` back and print the rows per table. Exits non-zero when a sync fails or a table
declared in ``schema()`` is empty.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from sandbox import registry
from sandbox.server import Sandbox
from tools.package import quiet_home, stage

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "build" / "demo"


def run_debug(project: Path, configuration: dict, home: Path) -> tuple[bool, float, str]:
    (project / "configuration.json").write_text(json.dumps(configuration, indent=2))
    env = {**os.environ, "DO_NOT_TRACK": "1", "HOME": str(home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).parent / "fivetran"), "debug"], cwd=project, env=env,
                            capture_output=True, text=True)
    (project / "debug.log").write_text(result.stdout + result.stderr)
    return result.returncode == 0, time.monotonic() - started, result.stdout


def declared_tables(project: Path, configuration: dict) -> list[str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"demo_{project.name}", project / "connector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [table["table"] for table in module.schema(configuration)]


def row_counts(project: Path) -> dict[str, int]:
    database = project / "files" / "warehouse.db"
    if not database.exists():
        return {}
    connection = duckdb.connect(str(database), read_only=True)
    try:
        tables = [t for (t,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'tester' order by 1").fetchall()]
        return {t: connection.execute(f'select count(*) from tester."{t}" where not _fivetran_deleted').fetchone()[0]
                for t in tables}
    finally:
        connection.close()


def main() -> int:
    names = [n for n in registry.available() if (ROOT / n / "connector.py").exists()]
    if not names:
        print("no connector with a sandbox fake found")
        return 1
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    home = quiet_home(DEMO_DIR / "home")
    failures = []
    with Sandbox(*(registry.make_fake(n) for n in names)) as box:
        print(f"sandbox on http://127.0.0.1:{box.port} serving {', '.join(names)}\n")
        for name in names:
            project = stage(name, DEMO_DIR / name)
            configuration = box.configuration(name)
            ok, seconds, _ = run_debug(project, configuration, home)
            counts = row_counts(project)
            empty = [t for t in declared_tables(project, configuration) if counts.get(t, 0) == 0]
            status = "ok" if ok and not empty else "FAILED"
            print(f"{name}: fivetran debug {'succeeded' if ok else 'failed'} in {seconds:.1f} s [{status}]")
            for table, count in counts.items():
                print(f"    {table:<24} {count:>9,} rows")
            if not ok:
                failures.append(f"{name}: sync failed, see {project / 'debug.log'}")
            if empty:
                failures.append(f"{name}: declared tables with no rows: {', '.join(empty)}")
            print()
    for failure in failures:
        print(failure)
    print("demo " + ("FAILED" if failures else "passed: every connector synced every declared table"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
