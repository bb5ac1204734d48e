"""Live updates over websockets: a job's events, and everything in a workspace.

Consumers authorize in `connect` through selectors and then only forward what
the relay (`apps.core.realtime.broadcast`) sends to their group. They join the
group before reading the snapshot, so no event falls between the two: a client
that reconnects reloads state from the snapshot, then follows events.

Refusals accept first and then close with an application code (4401 not signed
in, 4403 not allowed, 4400 bad request): a close before the handshake reaches
a browser only as a bare failure, without the code.

A role is checked again whenever it changes (`membership.changed`, sent to every
socket the user holds on the workspace): a socket whose user left the workspace
closes with 4403, and an admin's socket demoted mid-session stops hearing what
only admins may read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase

from apps.accounts.api_auth import workspace_id_parse
from apps.accounts.models import Membership
from apps.accounts.roles import CAN_GOVERN, CAN_VIEW
from apps.accounts.selectors import membership_require
from apps.briefs.selectors import brief_state_counts
from apps.core.errors import PermissionDenied
from apps.core.models import Workspace
from apps.core.realtime import admins_group
from apps.generation.selectors import job_get, job_membership_for, jobs_active
from apps.generation.serializers import JobDetailSerializer, JobSerializer
from apps.notifications.services import notifications_group

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def member_group(*, user_id: int, workspace_id: int) -> str:
    """Every socket one user holds on one workspace: told when that membership changes."""
    return f"member.{workspace_id}.{user_id}"


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group once authorized, sends a snapshot, then forwards the group's events."""

    member: Membership  # whose role the socket was authorized by, as it is now

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # left again in websocket_disconnect

    async def follow(self, group: str, snapshot: Callable[[], dict[str, Any]]) -> None:
        await self.join(member_group(user_id=self.member.user_id,
                                     workspace_id=self.member.workspace_id))
        await self.join(group)
        await self.accept()
        await self.send_json({"type": "snapshot", **await database_sync_to_async(snapshot)()})

    async def membership_changed(self, message: dict[str, Any]) -> None:
        """The user's role on the workspace changed or ended: check it again as connect did."""
        try:
            self.member = await database_sync_to_async(membership_require)(
                self.scope["user"], CAN_VIEW, self.member.workspace_id)
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.role_changed()

    async def role_changed(self) -> None:
        """What a socket that follows more than its role's minimum does on a new role."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Clients only listen; what they send is ignored."""

    async def event_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


class JobEventsConsumer(EventsConsumer):
    """/ws/jobs/<job_id>/: for members of the job's workspace."""

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.refuse(CLOSE_UNAUTHENTICATED)
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        membership = await database_sync_to_async(job_membership_for)(user=user, job_id=job_id)
        if membership is None:
            return await self.refuse(CLOSE_FORBIDDEN)
        self.member = membership
        await self.follow(f"job.{job_id}", partial(job_snapshot, membership.workspace, job_id))


class WorkspaceEventsConsumer(EventsConsumer):
    """/ws/workspace/[?workspace=<id>]: that workspace, else the session's current one,
    else the user's first."""

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.refuse(CLOSE_UNAUTHENTICATED)
        requested = parse_qs(self.scope.get("query_string", b"").decode()).get("workspace", [""])[0]
        try:
            membership = await database_sync_to_async(socket_membership)(
                user, self.scope["session"], requested
            )
        except ValueError:
            return await self.refuse(CLOSE_BAD_REQUEST)
        except PermissionDenied:
            return await self.refuse(CLOSE_FORBIDDEN)
        self.member = membership
        workspace = membership.workspace
        # The user's own notifications there, for the header's unread count; an admin's
        # socket also hears what only admins may read (settings), while the role lasts.
        await self.join(notifications_group(user_id=user.pk, workspace_id=workspace.pk))
        await self.role_changed()
        await self.follow(f"workspace.{workspace.pk}", partial(workspace_snapshot, workspace))

    async def role_changed(self) -> None:
        admins = admins_group(self.member.workspace_id)
        if self.member.role in CAN_GOVERN and admins not in self.groups:
            await self.join(admins)
        elif self.member.role not in CAN_GOVERN and admins in self.groups:
            await self.channel_layer.group_discard(admins, self.channel_name)
            self.groups.remove(admins)


def socket_membership(user: User, session: SessionBase, requested: str) -> Membership:
    """The membership whose workspace a socket follows; ValueError for a malformed id,
    PermissionDenied if not a member."""
    workspace_id = workspace_id_parse(requested or session.get("workspace_id"))
    return membership_require(user, CAN_VIEW, workspace_id)


def job_snapshot(workspace: Workspace, job_id: int) -> dict[str, Any]:
    return {"job": JobDetailSerializer(job_get(workspace=workspace, job_id=job_id)).data}


def workspace_snapshot(workspace: Workspace) -> dict[str, Any]:
    return {
        "workspace": {"id": workspace.pk, "name": workspace.name},
        "briefs_by_state": brief_state_counts(workspace_id=workspace.pk),
        "active_jobs": JobSerializer(jobs_active(workspace_id=workspace.pk), many=True).data,
    }
