"""The settings as an operator meets them: `check --deploy` is clean with the production
environment the README documents, DEBUG is off unless asked for, and missing keys fail loudly."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# What the tests set for themselves (tests/settings.py), which an operator's shell has not.
# (The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright in the same process.)
TEST_ONLY = {"DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "AIGC_ENCRYPTION_KEYS",
             "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECURE_COOKIES", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def production_env() -> dict[str, str]:
    """README's "Production settings": fresh keys, the public host, HTTPS defaults kept."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "AIGC_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DJANGO_ALLOWED_HOSTS": "content.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://content.example.com",
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=base | {"AIGC_VAR_DIR": str(settings.VAR_DIR)} | env)


SHOW = ("from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)")


def test_check_deploy_finds_nothing_with_the_documented_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stderr
    # The one silenced check is axes.W006, the lockout by username on purpose (see settings).
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


def test_production_runs_https_only_with_secure_cookies_and_debug_off():
    result = manage("shell", "--no-imports", "-c", SHOW, env=production_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True True True 31536000"


def test_plain_http_local_use_turns_off_the_redirect_and_secure_cookies():
    result = manage("shell", "--no-imports", "-c", SHOW,
                    env=production_env() | {"DJANGO_SECURE_SSL_REDIRECT": "false"})

    assert result.stdout.strip() == "False False False False 31536000"


def test_without_a_secret_key_the_settings_refuse_to_load_unless_debug_is_asked_for():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]

    refused = manage("check", env=env)
    debug = manage("check", env=env | {"DJANGO_DEBUG": "true"})

    assert refused.returncode == 1
    assert "RuntimeError: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in refused.stderr
    assert (debug.returncode, debug.stdout.strip()) == (0, "System check identified no issues "
                                                           "(1 silenced).")


def test_without_encryption_keys_the_settings_refuse_to_load():
    env = production_env()
    del env["AIGC_ENCRYPTION_KEYS"]

    refused = manage("check", env=env)

    assert refused.returncode == 1
    assert "RuntimeError: AIGC_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off." in refused.stderr


def test_an_empty_flag_as_a_copied_env_example_leaves_it_keeps_its_secure_default():
    result = manage("shell", "--no-imports", "-c", SHOW,
                    env=production_env() | {"DJANGO_SECURE_SSL_REDIRECT": "",
                                            "DJANGO_SECURE_COOKIES": ""})

    assert result.stdout.strip() == "False True True True 31536000"
