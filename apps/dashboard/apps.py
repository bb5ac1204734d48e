from django.apps import AppConfig
from django.db.models.signals import post_save


class DashboardConfig(AppConfig):
    name = "apps.dashboard"
    label = "dashboard"

    def ready(self) -> None:
        # Imported once the app registry is ready (the module uses models).
        from apps.core.models import AuditEvent
        from apps.dashboard.settings_events import settings_change_announce

        post_save.connect(settings_change_announce, sender=AuditEvent,
                          dispatch_uid="dashboard.settings_change_announce")
