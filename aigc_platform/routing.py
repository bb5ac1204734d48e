"""Websocket routes (wrapped in session auth by aigc_platform.asgi)."""

from django.urls import path

from apps.dashboard.consumers import JobEventsConsumer, WorkspaceEventsConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobEventsConsumer.as_asgi()),
    path("ws/workspace/", WorkspaceEventsConsumer.as_asgi()),
]
