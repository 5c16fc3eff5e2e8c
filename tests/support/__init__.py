"""Helpers the test modules share: constants, pure functions, classes and context managers, no
fixtures (those stay in ``tests/conftest.py``). One copy of each; test modules never import each other.

- ``soap``: endpoints, the seed's tickets and token, request envelopes, ``Answer``, the post helpers;
- ``database``: the test's database (SQLite or PostgreSQL) and the readers that bypass the emulator;
- ``http``: a live server over a real socket; ``servers``: servers in processes of their own;
- ``clock``, ``paths``, ``settings``, ``fixtures`` (CRM fixture files), ``calls`` (the pipeline
  without a wire), ``wsdl`` (the WSDL documents);
- ``model`` (a model of SetActivityStatus) and ``batches`` (many clients and the serial-replay check).
"""
