"""Local fakes of the five source APIs, served on 127.0.0.1 for the demo, end-to-end tests and benchmarks.

Each fake lives in ``sandbox/<connector>.py`` and exposes its class as ``FAKE``; ``registry.make_fake(name)``
builds one by connector name.
"""
