"""Fan-out of events to websocket groups through the channel layer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def groups_for(workspace_id: int, payload: dict[str, Any]) -> list[str]:
    """The groups an event goes to: its workspace, and its job and brief if it names them."""
    groups = [f"workspace.{workspace_id}"]
    for key, prefix in (("job_id", "job"), ("brief_id", "brief")):
        if payload.get(key):
            groups.append(f"{prefix}.{payload[key]}")
    return groups


def broadcast(groups: Iterable[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    for group in groups:
        send(group, {"type": "event.message", "event": message})
