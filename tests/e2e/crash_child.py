"""A sync in a process of its own, for the crash scenario: the test kills it with SIGKILL part-way.

    python -m tests.e2e.crash_child <connector> <tmp folder> <configuration.json> <module patches.json>

The project is ``<tmp folder>/<connector>`` (already staged by the test); the sync starts from its state. The
patches set module constants of the connector (the client-side pacing an API imposes), so a 50,000-row sync
against the local fake is not held to production request rates.
"""

import json
import sys
from pathlib import Path

import pytest

from tests.harness import LocalRunner


def main(name: str, folder: str, configuration_path: str, patches_path: str) -> int:
    with pytest.MonkeyPatch.context() as monkeypatch:
        runner = LocalRunner(name, Path(folder), monkeypatch)
        for constant, value in json.loads(Path(patches_path).read_text()).items():
            setattr(runner.module, constant, value)
        return 0 if runner.sync(json.loads(Path(configuration_path).read_text())) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
