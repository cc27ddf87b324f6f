"""Helpers every connector of the suite imports: transport, auth, paging, parsing, flattening, time, config.

Standard library and requests only. The package never calls ``op``, never reads or writes ``state`` and never
defines tables: that stays visible in each connector.py.
"""
