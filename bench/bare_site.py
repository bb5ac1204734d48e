"""The api_ingest bench's server settings: the tests' production settings, with the
project's URLs plus one bare Django view (bench/bare_urls.py)."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
