"""The header's unread count follows a user's own notifications live, over the workspace
socket: each user hears only their own, in the workspace the page shows."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from aigc_platform.asgi import application
from apps.accounts.models import Role
from apps.accounts.services import membership_grant
from apps.notifications.models import Kind
from apps.notifications.services import notifications_mark_read, notify
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)  # the consumer reads in its own connection


def _cookie(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def test_a_users_own_notifications_reach_their_socket_and_nobody_elses(ws, rita):
    sam = factories.member(ws, Role.REVIEWER, username="sam")
    elsewhere = factories.workspace(name="Elsewhere")
    membership_grant(user=rita, workspace=elsewhere, role=Role.REVIEWER)

    def notes() -> None:
        notify(user_ids=[sam.pk], workspace_id=ws.pk, kind=Kind.MENTION, message="For sam.")
        notify(user_ids=[rita.pk], workspace_id=elsewhere.pk, kind=Kind.MENTION,
               message="Another workspace's.")
        notify(user_ids=[rita.pk], workspace_id=ws.pk, kind=Kind.MENTION, message="One.")
        notify(user_ids=[rita.pk, sam.pk], workspace_id=ws.pk, kind=Kind.MENTION, message="Two.")

    cookie = _cookie(rita)

    async def scenario() -> list[dict[str, Any]]:
        socket = WebsocketCommunicator(application, f"/ws/workspace/?workspace={ws.pk}", headers=[
            (b"origin", b"http://localhost"), (b"cookie", cookie)])
        connected, _ = await socket.connect(timeout=5)
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
        await database_sync_to_async(notes)()
        heard = [await socket.receive_json_from(timeout=5) for _ in range(2)]
        await database_sync_to_async(notifications_mark_read)(user_id=rita.pk,
                                                              workspace_id=ws.pk)
        heard.append(await socket.receive_json_from(timeout=5))
        assert await socket.receive_nothing(timeout=0.3)  # never sam's, nor another workspace's
        await socket.disconnect()
        return heard

    assert [m["data"]["unread"] for m in async_to_sync(scenario)()] == [1, 2, 0]
