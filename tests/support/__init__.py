"""Helpers the test modules share: pure functions and context managers, no fixtures (those stay in
``tests/conftest.py``)."""
