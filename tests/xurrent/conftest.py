"""Fixtures for the Xurrent tests: the connector with every clock it reads tied to one virtual clock.

Sleeping is patched out (``sleeps``), so real time barely moves; the virtual clock is real time plus every wait
the connector asked for. The burst limiter, the OAuth token's renewal time, the quota pacing (through
``http_client.wall_clock``, which ``sleeps`` moves too) and (when a test passes it) the fake's own clock all read
it, so a wait "passes" for all of them at once and nothing sleeps.
"""

import functools
import time

import pytest

from tests.harness import load_connector


@pytest.fixture
def clock(sleeps):
    """Wall-clock seconds that advance by every patched-out sleep."""
    return lambda: time.time() + sum(sleeps)


@pytest.fixture
def xurrent(monkeypatch, sleeps, clock):
    module = load_connector("xurrent")
    monotonic = lambda: time.monotonic() + sum(sleeps)  # noqa: E731
    monkeypatch.setattr(module, "RateLimiter", functools.partial(module.RateLimiter, clock=monotonic))
    monkeypatch.setattr(module, "OAuth2ClientCredentials",
                        functools.partial(module.OAuth2ClientCredentials, clock=clock))
    return module
