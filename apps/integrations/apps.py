from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"

    def ready(self) -> None:
        # Imported once the app registry is ready (the module uses models).
        from apps.core.relay import relay_consumer_register
        from apps.integrations.outbound import subscriptions_fanout_many

        # One delivery per (subscription, event): safe to repeat.
        relay_consumer_register(subscriptions_fanout_many)
