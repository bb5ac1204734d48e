from __future__ import annotations

from apps.notifications.models import Notification


def notifications_recent(*, user_id: int, workspace_id: int, limit: int = 50) -> list[Notification]:
    return list(Notification.objects.filter(user_id=user_id, workspace_id=workspace_id)
                .select_related("brief")[:limit])


def notifications_unread_count(*, user_id: int, workspace_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, workspace_id=workspace_id,
                                       read_at__isnull=True).count()
