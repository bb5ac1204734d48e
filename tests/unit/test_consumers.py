"""Websockets through the real ASGI stack: session cookie, channel layer (Valkey), relay."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from aigc_platform.asgi import application
from apps.accounts.models import Membership, Role
from apps.accounts.services import membership_grant, membership_remove
from apps.core.models import OutboxEvent
from apps.core.realtime import broadcast
from apps.datasets.models import Dataset, DatasetVersion, VersionState
from apps.datasets.services import dataset_build_progress
from apps.generation.models import GenerationJob, ProfileCheck
from apps.generation.profile_checks import profile_check_send
from apps.publishing.targets import target_create
from apps.workflow.services import brief_cancel
from tests import factories
from tests.clients import logged_in

# Real commits: the relay runs on commit, and the consumer reads what the test wrote.
pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def session_cookie(user, workspace_id: int | None = None) -> bytes:
    """The cookie of a real signed-in session, as a browser would send it."""
    client = logged_in(user, workspace_id)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def socket(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def queued_job(ws) -> GenerationJob:
    # Created as a row rather than by brief_submit: the relayed `job.queued` would send a
    # real task to the shared broker, where a running dev worker could pick it up.
    brief = factories.brief(ws)
    return GenerationJob.objects.create(workspace=ws, brief=brief, variants=brief.variants)


def close_codes(*attempts: tuple[str, bytes | None]) -> list[int]:
    """The close code each (path, cookie) connection gets; they run side by side."""

    async def attempt(path: str, cookie: bytes | None) -> int:
        communicator = socket(path, cookie)
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected  # accepted first, so that a browser sees the close code
        closed = await communicator.receive_output(timeout=TIMEOUT)
        assert closed["type"] == "websocket.close"
        await communicator.disconnect(code=closed["code"])
        return closed["code"]

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(attempt(path, cookie) for path, cookie in attempts)))

    return async_to_sync(scenario)()


def test_an_outsider_or_a_stranger_is_refused():
    # given a job, a member of another workspace, and a visitor who is not signed in
    job = queued_job(factories.workspace())
    outsider = factories.member(factories.workspace(), Role.EDITOR)
    cookie = session_cookie(outsider)
    # when they open the job's socket, or the outsider asks for a missing job, for the
    # job's workspace, or for a malformed or overlong workspace id
    codes = close_codes(
        (f"/ws/jobs/{job.pk}/", cookie),
        (f"/ws/jobs/{job.pk + 1000}/", cookie),
        (f"/ws/workspace/?workspace={job.workspace_id}", cookie),
        ("/ws/workspace/?workspace=mine", cookie),
        (f"/ws/workspace/?workspace={'9' * 25}", cookie),
        (f"/ws/jobs/{job.pk}/", None),
        ("/ws/workspace/", None),
    )
    # then the outsider gets 4403 (4400 for the bad ids), the visitor 4401
    assert codes == [4403, 4403, 4403, 4400, 4400, 4401, 4401]


def test_a_member_gets_the_snapshot_then_broadcast_and_relayed_events_in_order():
    # given a queued job and a reviewer of its workspace, connected to its socket
    ws = factories.workspace()
    job = queued_job(ws)
    member = factories.member(ws, Role.REVIEWER)
    cookie = session_cookie(member)

    async def scenario() -> list[dict[str, Any]]:
        communicator = socket(f"/ws/jobs/{job.pk}/", cookie)
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected
        received = [await communicator.receive_json_from(timeout=TIMEOUT)]
        # when a worker broadcasts progress, then the brief is cancelled (its events relayed)
        await database_sync_to_async(broadcast)(
            [f"job.{job.pk}"], {"type": "job.progress", "data": {"job_id": job.pk, "tokens": 12}})
        await database_sync_to_async(brief_cancel)(brief=job.brief)
        received += [await communicator.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
        return received

    snapshot, progress, cancelled = async_to_sync(scenario)()
    # then it saw the job as stored, then both events, in order
    assert snapshot["type"] == "snapshot"
    assert {k: snapshot["job"][k] for k in ("id", "state", "brief", "drafts", "events")} == {
        "id": job.pk, "state": "queued", "events": f"/ws/jobs/{job.pk}/", "drafts": [],
        "brief": {"id": job.brief_id, "title": "Composting at home", "state": "draft"}}
    assert progress == {"type": "job.progress", "data": {"job_id": job.pk, "tokens": 12}}
    event = OutboxEvent.objects.get(type="job.cancelled")
    assert cancelled == {
        "id": event.pk, "type": "job.cancelled",
        "subject": {"type": "generationjob", "id": job.pk},
        "data": {"state": "cancelled", "previous_state": "queued", "job_id": job.pk,
                 "brief_id": job.brief_id},
        "at": event.created_at.isoformat(),
    }
    assert event.relayed_at is not None


def test_the_workspace_socket_follows_the_session_workspace():
    # given a user in two workspaces whose session's current workspace is the second
    first, second = factories.workspace(), factories.workspace()
    job = queued_job(second)
    user = factories.member(first, Role.EDITOR)
    membership_grant(user=user, workspace=second, role=Role.REVIEWER)
    cookie = session_cookie(user, workspace_id=second.pk)

    async def scenario() -> list[dict[str, Any]]:
        communicator = socket("/ws/workspace/", cookie)
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected
        received = [await communicator.receive_json_from(timeout=TIMEOUT)]
        # when the brief is cancelled
        await database_sync_to_async(brief_cancel)(brief=job.brief, actor=user)
        received += [await communicator.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
        await communicator.disconnect()
        return received

    snapshot, brief_event, job_event = async_to_sync(scenario)()
    # then the snapshot is the second workspace's, and both events follow in order
    assert snapshot["workspace"] == {"id": second.pk, "name": second.name}
    assert snapshot["briefs_by_state"] == {"draft": 1}
    assert [j["id"] for j in snapshot["active_jobs"]] == [job.pk]
    assert (brief_event["type"], brief_event["data"]["state"]) == ("brief.cancelled", "cancelled")
    assert (job_event["type"], job_event["subject"]) == (
        "job.cancelled", {"type": "generationjob", "id": job.pk})


async def heard(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every message the socket gets until it has been quiet for half a second."""
    messages = []
    while not await communicator.receive_nothing(timeout=0.5):
        messages.append(await communicator.receive_json_from(timeout=TIMEOUT))
    return messages


def test_settings_changes_profile_checks_and_builds_reach_only_the_admins_sockets():
    # given an admin and an editor of a workspace on its socket, a profile's test check and
    # a dataset version a worker builds
    ws = factories.workspace()
    admin, editor = factories.member(ws, Role.ADMIN), factories.member(ws, Role.EDITOR)
    check = ProfileCheck.objects.create(workspace=ws, model_profile=factories.model_profile(ws))
    version = DatasetVersion.objects.create(
        dataset=Dataset.objects.create(workspace=ws, name="Archive"), workspace=ws, number=1,
        state=VersionState.RUNNING, worker_id="w1")
    cookies = [session_cookie(user) for user in (admin, editor)]

    async def scenario() -> list[list[dict[str, Any]]]:
        sockets = [socket("/ws/workspace/", cookie) for cookie in cookies]
        for communicator in sockets:
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
        # when the worker writes the check's text, the build cleans half its documents,
        # and the admin adds a target
        await database_sync_to_async(profile_check_send)(check, "profile_check.progress",
                                                         {"text": "Start the heap"})
        await database_sync_to_async(dataset_build_progress)(version, "w1", 5, 10)
        await database_sync_to_async(target_create)(
            workspace=ws, name="Site", kind="file", config={"folder": "site"}, actor=admin)
        received = [await heard(communicator) for communicator in sockets]
        for communicator in sockets:
            await communicator.disconnect()
        return received

    to_admin, to_editor = async_to_sync(scenario)()
    # then the admin's socket hears all three, the editor's none
    text, built, changed = to_admin
    assert (text["type"], text["data"]) == ("profile_check.progress",
                                            {"check_id": check.pk, "text": "Start the heap"})
    assert (built["type"], built["data"]) == ("dataset.progress", {
        "dataset_version_id": version.pk, "dataset_id": version.dataset_id,
        "documents_done": 5, "documents": 10, "progress": 0.5})
    assert (changed["type"], changed["data"]) == ("settings.changed", {
        "action": "target.created", "subject_type": "publishingtarget",
        "subject_id": ws.targets.get().pk, "by": admin.username})
    assert to_editor == []


def test_a_demoted_admins_socket_stops_hearing_settings_and_a_removed_members_sockets_close():
    # given two admins and an editor, the second admin on the workspace's socket and the
    # editor on it and on a job's
    ws = factories.workspace()
    admin, demoted = factories.member(ws, Role.ADMIN), factories.member(ws, Role.ADMIN)
    editor = factories.member(ws, Role.EDITOR)
    job = queued_job(ws)
    demoted_cookie, editor_cookie = session_cookie(demoted), session_cookie(editor)
    editor_membership = Membership.objects.get(user=editor)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
        demoted_socket = socket("/ws/workspace/", demoted_cookie)
        editor_sockets = [socket(path, editor_cookie)
                          for path in ("/ws/workspace/", f"/ws/jobs/{job.pk}/")]
        for communicator in (demoted_socket, *editor_sockets):
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
        # when the first admin adds a target (the second still admin), makes the second an
        # editor and adds another target, then removes the editor from the workspace
        await database_sync_to_async(target_create)(
            workspace=ws, name="One", kind="file", config={"folder": "one"}, actor=admin)
        before = await heard(demoted_socket)
        await database_sync_to_async(membership_grant)(user=demoted, workspace=ws,
                                                       role=Role.EDITOR, actor=admin)
        await heard(demoted_socket)  # the demotion's own news, then the socket re-checks
        await database_sync_to_async(target_create)(
            workspace=ws, name="Two", kind="file", config={"folder": "two"}, actor=admin)
        after = await heard(demoted_socket)
        await database_sync_to_async(membership_remove)(membership=editor_membership,
                                                        actor=admin)
        codes = []
        for communicator in editor_sockets:
            output = await communicator.receive_output(timeout=TIMEOUT)
            while output["type"] != "websocket.close":  # events sent before the removal
                output = await communicator.receive_output(timeout=TIMEOUT)
            codes.append(output["code"])
            await communicator.disconnect(code=output["code"])
        await demoted_socket.disconnect()
        return before, after, codes

    before, after, codes = async_to_sync(scenario)()
    # then the second admin heard the first target while an admin and not the second one
    # as an editor, and both of the removed editor's sockets closed as forbidden
    assert [e["data"]["action"] for e in before if e["type"] == "settings.changed"] == [
        "target.created"]
    assert [e["data"]["action"] for e in after if e["type"] == "settings.changed"] == []
    assert codes == [4403, 4403]
