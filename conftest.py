"""Fixtures shared across test folders, registered once so no test imports them by name:
the tiny trained model (tests/generation_fixtures.py) and the live platform (tests/live.py)."""

pytest_plugins = ["tests.generation_fixtures", "tests.live"]
