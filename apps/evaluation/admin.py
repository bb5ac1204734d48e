from django.contrib import admin
from django.utils.html import format_html, format_html_join

from apps.accounts.admin_scoping import ReadOnlyAdmin, WorkspaceScopedAdmin
from apps.evaluation.models import (
    Evaluation,
    GateDecision,
    QualityGate,
    WorkspaceEvaluationSettings,
)


@admin.register(QualityGate)
class QualityGateAdmin(WorkspaceScopedAdmin[QualityGate]):
    """Thresholds per metric; the model's clean() checks rules and patterns."""

    list_display = ("name", "content_type", "target", "enabled", "max_regenerations", "audit_rate",
                    "workspace")
    list_filter = ("enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "content_type__name")
    list_select_related = ("content_type", "target", "workspace")


@admin.register(WorkspaceEvaluationSettings)
class WorkspaceEvaluationSettingsAdmin(WorkspaceScopedAdmin[WorkspaceEvaluationSettings]):
    list_display = ("workspace", "auto_approve")
    list_select_related = ("workspace",)


@admin.register(GateDecision)
class GateDecisionAdmin(ReadOnlyAdmin[GateDecision]):
    list_display = ("id", "brief", "job", "decision", "passed", "regeneration", "required_group",
                    "audit_sampled", "created_at")
    list_filter = ("decision", "passed", "audit_sampled",
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("brief__title", "=job__id")
    list_select_related = ("brief", "job")
    ordering = ("-created_at",)


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin[Evaluation]):
    workspace_path = "draft__brief__workspace_id"
    list_display = ("id", "draft", "brief", "rank", "score", "passed", "relevance", "length_fit",
                    "embedding_model", "created_at")
    list_filter = ("passed", "embedding_model",
                   ("draft__brief__workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=draft__id", "draft__brief__title")
    list_select_related = ("draft", "draft__brief")
    ordering = ("-created_at",)
    readonly_fields = ("score_card", "gate_history")

    @admin.display(description="brief", ordering="draft__brief__title")
    def brief(self, evaluation: Evaluation) -> str:
        return str(evaluation.draft.brief)

    @admin.display(description="score card")
    def score_card(self, evaluation: Evaluation) -> str:
        if evaluation.passed is None:
            return "No quality gate applies to this content type."
        verdict = "passed every hard check" if evaluation.passed else "failed a hard check"
        if not evaluation.findings:
            return format_html("Rank {}: {}; nothing to report.", evaluation.rank, verdict)
        return format_html(
            "Rank {}: {}.<ul>{}</ul>", evaluation.rank, verdict,
            format_html_join("", "<li>{}: {}</li>",
                             ((f["severity"], f["reason"]) for f in evaluation.findings)),
        )

    @admin.display(description="gate decisions on this brief (newest first)")
    def gate_history(self, evaluation: Evaluation) -> str:
        decisions = GateDecision.objects.filter(brief_id=evaluation.draft.brief_id).order_by("-id")
        if not decisions:
            return "None."
        return format_html("<ol>{}</ol>", format_html_join(
            "", "<li>job {}: {} (regeneration {}){}{}</li>",
            ((d.job_id, d.get_decision_display(), d.regeneration,
              " — " + "; ".join(d.reasons) if d.reasons else "",
              f" — needs {d.required_group}" if d.required_group else "")
             for d in decisions),
        ))
