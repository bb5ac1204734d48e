from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "apps.workflow"
    label = "workflow"

    def ready(self) -> None:
        # Imported once the app registry is ready (the table's reactions use models).
        from apps.workflow.pipeline import pipeline_register

        pipeline_register()
