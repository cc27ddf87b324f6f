"""Find the fake for a connector by name: module ``sandbox.<name>`` exposes its class as ``FAKE``."""

import importlib

from sandbox.harness_names import CONNECTORS


def available() -> list[str]:
    names = []
    for name in CONNECTORS:
        try:
            module = importlib.import_module(f"sandbox.{name}")
        except ModuleNotFoundError:
            continue
        if hasattr(module, "FAKE"):
            names.append(name)
    return names


def make_fake(name: str, **options):
    return importlib.import_module(f"sandbox.{name}").FAKE(**options)
