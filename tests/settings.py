"""The tests run the production settings (DEBUG off), over plain http, with keys of their own.

Set in the environment before the settings load, so the worker and web processes the
tests start (tests/live.py, tests/integration) inherit the same values.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-4f9c2e7a1b8d3f6e0a5c9b2d7e1f4a8c")
os.environ.setdefault("AIGC_ENCRYPTION_KEYS", "dGVzdHMtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzLiE=")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from django.conf import global_settings

from aigc_platform.settings import *  # noqa: F403

# Every test member has a password, and the production hasher's million rounds took about
# 0.3 s each on two cores; Django's own hashers follow, so any other hash still verifies.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                    *global_settings.PASSWORD_HASHERS]

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Django's backend, emptying a transactional test's tables faster (tests/postgresql).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
