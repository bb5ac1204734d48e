from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Imported once the app registry is ready (the reactions use models).
        from apps.notifications.reactions import reactions_register

        reactions_register()
