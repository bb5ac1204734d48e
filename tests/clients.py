"""Signed-in clients for tests of the dashboard and the REST API; polling; another process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from apps.apikeys.services import apikey_create

T = TypeVar("T")


def logged_in(user: Any, workspace_id: int | None = None) -> Client:
    """A browser-like client with the user's session; `workspace_id`: the session's current
    workspace (else the user's first)."""
    client = Client()
    client.force_login(user)
    if workspace_id is not None:
        session = client.session
        session["workspace_id"] = workspace_id
        session.save()
    return client


def client_for(user: Any) -> APIClient:
    """An API client authenticated as the user."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def key_client(ws: Any, user: Any, *scopes: str) -> APIClient:
    """An API client sending a new API key of the user's in `ws`, with `scopes`."""
    _, key = apikey_create(workspace=ws, user=user, name=" ".join(scopes), scopes=scopes)
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")


def wait_until(read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Poll `read` until `done` holds (work happening in other processes), or fail saying so."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last: {value}")
        time.sleep(0.3)


def in_another_process(code: str) -> str:
    """What `code` prints, run by a fresh interpreter with Django set up on this test
    session's settings (another web or worker process of the same deployment)."""
    script = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'aigc_platform.settings'; "
              "django.setup()\n" + code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env=os.environ | {"AIGC_VAR_DIR": str(settings.VAR_DIR)}
                          ).stdout.strip()
