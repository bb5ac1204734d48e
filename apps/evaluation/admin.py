from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.evaluation.models import Evaluation


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    workspace_path = "draft__brief__workspace_id"
    list_display = ("id", "draft", "brief", "score", "relevance", "length_fit",
                    "embedding_model", "created_at")
    list_filter = ("embedding_model", ("draft__brief__workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=draft__id", "draft__brief__title")
    list_select_related = ("draft", "draft__brief")
    ordering = ("-created_at",)

    @admin.display(description="brief", ordering="draft__brief__title")
    def brief(self, evaluation: Evaluation) -> str:
        return str(evaluation.draft.brief)
