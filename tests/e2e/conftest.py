"""The ``e2e`` fixture: a fake with canary secrets, short timeouts, local runners, an oracle, and a leak check.

Every scenario runs with a canary in every secret field the fake's configuration uses; when the test ends, the
canaries must appear nowhere in what was printed (stdout and stderr) or in any file under the test's folder
(state, warehouse, crash reports).
"""

from pathlib import Path

import pytest

from sandbox import registry
from shared.http_client import Client
from tests.harness import LocalRunner, canary_secrets, load_connector

READ_TIMEOUT_S = 0.25
FAULT_KINDS = (
    ("status", {"status": 429, "retry_after": "1"}),
    ("status", {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("slow", {"delay_s": READ_TIMEOUT_S + 0.2}),
    ("reset", {}),
    ("truncate", {}),
)
FAULT_IDS = ("429-seconds", "429-date", "500", "502", "503", "read-timeout", "reset", "truncated")
_REFERENCES: dict[tuple, dict] = {}  # (connector, fake options) -> snapshot; fakes are deterministic within a day


class EndToEnd:
    def __init__(self, tmp_path: Path, monkeypatch, sandbox, capfd):
        self.tmp_path, self.monkeypatch, self.sandbox, self.capfd = tmp_path, monkeypatch, sandbox, capfd
        self.box = None
        self.secrets: dict[str, str] = {}
        self._printed = ""

    def start(self, profile, **fake_options):
        """A sandbox with this connector's fake, holding canary credentials; returns it and the configuration."""
        module = load_connector(profile.name)
        fake_options = {**profile.small, **fake_options}
        self.secrets = canary_secrets(module, profile.name, **fake_options)
        self.box = self.sandbox(registry.make_fake(profile.name, **fake_options, **self.secrets))
        return self.box, self.configuration(profile)

    def configuration(self, profile) -> dict:
        fake = self.box.fakes[profile.name]
        return profile.adjust(fake, fake.configuration(self.box.url(profile.name)))

    def runner(self, profile, project_name: str | None = None) -> LocalRunner:
        return LocalRunner(profile.name, self.tmp_path, self.monkeypatch, project_name)

    def reference(self, profile, **fake_options) -> dict:
        """The oracle: a clean sync of an identical, unchanged fake into a warehouse of its own (made once)."""
        fake_options = {**profile.small, **fake_options}
        key = (profile.name, repr(sorted(fake_options.items())))
        if key not in _REFERENCES:
            box = self.sandbox(registry.make_fake(profile.name, **fake_options, **self.secrets))
            fake = box.fakes[profile.name]
            clean = self.runner(profile, project_name=f"{profile.name}-reference")
            assert clean.sync(profile.adjust(fake, fake.configuration(box.url(profile.name))), state={}), \
                self.output()
            _REFERENCES[key] = clean.snapshot(profile.volatile)
        return _REFERENCES[key]

    def output(self) -> str:
        captured = self.capfd.readouterr()
        self._printed += captured.out + captured.err
        return self._printed

    def assert_no_leak(self) -> None:
        printed = self.output()
        written = "\n".join(path.read_bytes().decode("utf-8", "replace")
                            for path in self.tmp_path.rglob("*") if path.is_file())
        for key, canary in self.secrets.items():
            assert canary not in printed, f"the {key} canary was printed"
            assert canary not in written, f"the {key} canary was written to a file"


@pytest.fixture
def e2e(tmp_path, monkeypatch, sandbox, sleeps, capfd):
    original_init = Client.__init__

    def short_timeouts(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.timeout_s = (2.0, READ_TIMEOUT_S)

    monkeypatch.setattr(Client, "__init__", short_timeouts)
    scenario = EndToEnd(tmp_path, monkeypatch, sandbox, capfd)
    yield scenario
    scenario.assert_no_leak()
