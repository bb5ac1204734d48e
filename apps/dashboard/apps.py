from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class DashboardConfig(AppConfig):
    name = "apps.dashboard"
    label = "dashboard"

    def ready(self) -> None:
        # Imported once the app registry is ready (the module uses models).
        from apps.accounts.models import Membership
        from apps.core.models import AuditEvent
        from apps.dashboard.settings_events import (
            membership_change_announce,
            settings_change_announce,
        )

        post_save.connect(settings_change_announce, sender=AuditEvent,
                          dispatch_uid="dashboard.settings_change_announce")
        post_save.connect(membership_change_announce, sender=Membership,
                          dispatch_uid="dashboard.membership_saved_announce")
        post_delete.connect(membership_change_announce, sender=Membership,
                            dispatch_uid="dashboard.membership_deleted_announce")
