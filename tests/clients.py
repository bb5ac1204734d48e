"""Signed-in clients for tests of the dashboard and the REST API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.test import Client
from rest_framework.test import APIClient

T = TypeVar("T")


def logged_in(user: Any) -> Client:
    """A browser-like client with the user's session."""
    client = Client()
    client.force_login(user)
    return client


def client_for(user: Any) -> APIClient:
    """An API client authenticated as the user."""
    client = APIClient()
    client.force_authenticate(user)
    return client


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
