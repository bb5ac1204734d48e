"""Fixtures most unit tests share: a workspace and its members by role."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.core.models import Workspace
from tests import factories


@pytest.fixture
def ws() -> Workspace:
    return factories.workspace()


@pytest.fixture
def editor(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.EDITOR)


@pytest.fixture
def reviewer(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.REVIEWER)


@pytest.fixture
def admin(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.ADMIN)
