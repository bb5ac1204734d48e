from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.models import TimeStamped, Workspace
from apps.evaluation import gating
from apps.generation.models import Draft, GenerationJob


class Evaluation(models.Model):
    """The scores of one draft; `score` ranks a job's variants (higher is better)."""

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, related_name="evaluation")
    relevance = models.FloatField(help_text="cosine similarity of brief and draft embeddings")
    length_fit = models.FloatField(help_text="1.0 at the target length, falling off either side")
    score = models.FloatField(db_index=True, help_text="the gate's weighted score, if it sets weights")
    metrics = models.JSONField(default=dict, blank=True)
    embedding_model = models.CharField(max_length=200)
    rank = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1: shown first")
    passed = models.BooleanField(null=True, help_text="no hard failure (empty: no gate applied)")
    findings = models.JSONField(default=list, blank=True,
                                help_text="broken rules: metric, severity, value, reason")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Evaluation of draft {self.draft_id}: {self.score:.2f}"


class RevisionEvaluation(models.Model):
    """The scores of a reviewer's edited revision, by the scorer that scored the model's text."""

    revision = models.OneToOneField("reviews.DraftRevision", on_delete=models.CASCADE,
                                    related_name="evaluation")
    relevance = models.FloatField()
    length_fit = models.FloatField()
    score = models.FloatField()
    metrics = models.JSONField(default=dict, blank=True)
    embedding_model = models.CharField(max_length=200)
    passed = models.BooleanField(help_text="no hard rule broken (banned terms, personal data, "
                                 "a copy, another language)")
    findings = models.JSONField(default=list, blank=True,
                                help_text="broken hard rules: metric, severity, value, reason")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Evaluation of revision {self.revision_id}: {self.score:.2f}"


class QualityGate(TimeStamped):
    """Thresholds a content type's drafts must meet, optionally only for one target."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    content_type = models.ForeignKey("briefs.ContentType", on_delete=models.CASCADE,
                                     related_name="quality_gates")
    target = models.ForeignKey(
        "publishing.PublishingTarget", null=True, blank=True, on_delete=models.CASCADE,
        related_name="quality_gates",
        help_text="empty: every draft of the content type; set: only when this target is enabled "
        "for automatic publishing",
    )
    enabled = models.BooleanField(default=True)
    rules = models.JSONField(
        default=gating.default_rules, blank=True,
        help_text='[{"metric": "relevance", "min": 0.3, "severity": "fail"}, ...]; severity '
        '"fail" blocks a draft, "warn" sends it to a reviewer',
    )
    weights = models.JSONField(default=dict, blank=True,
                               help_text='ranking weights, e.g. {"relevance": 0.6, "length_fit": '
                               '0.2, "keyword_coverage": 0.2}; empty: the scorer\'s score')
    max_regenerations = models.PositiveSmallIntegerField(
        default=2, validators=[MaxValueValidator(10)],
        help_text="automatic regenerations before a failing brief goes to review anyway")
    risk_patterns = models.JSONField(
        default=list, blank=True,
        help_text='[{"name": "health claim", "pattern": "\\\\bcures?\\\\b"}, ...] regular '
        "expressions (case-insensitive); a match needs the risk reviewer group",
    )
    risk_reviewer_group = models.CharField(max_length=150, blank=True)
    audit_rate = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="share of drafts the gate would approve that still go to a reviewer")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "target"], name="one_gate_per_target"),
            models.UniqueConstraint(fields=["content_type"], condition=models.Q(target=None),
                                    name="one_gate_per_content_type"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            gating.rules_from(self.rules or [])
            gating.risk_patterns_from(self.risk_patterns or [])
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if self.content_type_id and self.content_type.workspace_id != self.workspace_id:
            raise ValidationError("The content type belongs to another workspace.")
        if self.target is not None and self.target.workspace_id != self.workspace_id:
            raise ValidationError("The target belongs to another workspace.")

    def policy(self) -> gating.Policy:
        return gating.Policy(
            rules=gating.rules_from(self.rules or []),
            weights={str(k): float(v) for k, v in (self.weights or {}).items()},
            max_regenerations=self.max_regenerations,
            risk_patterns=gating.risk_patterns_from(self.risk_patterns or []),
            risk_group=self.risk_reviewer_group,
            audit_rate=self.audit_rate,
        )


class WorkspaceEvaluationSettings(models.Model):
    """Per-workspace switches of the evaluation stage."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE,
                                     related_name="evaluation_settings")
    auto_approve = models.BooleanField(
        default=False, help_text="let drafts that pass every check skip human review")
    embedding_model_dir = models.CharField(
        max_length=500, blank=True,
        help_text="a sentence-transformers model folder on the evaluation workers (e.g. a "
        "multilingual one for Chinese); empty: the deployment's model. Languages its model "
        "card does not list are scored by the lexical fallback",
    )

    class Meta:
        verbose_name_plural = "workspace evaluation settings"

    def __str__(self) -> str:
        return f"Evaluation settings of {self.workspace}"


class GateOutcome(models.TextChoices):
    AUTO_APPROVE = gating.AUTO_APPROVE, "auto-approved"
    REVIEW = gating.REVIEW, "sent to review"
    REGENERATE = gating.REGENERATE, "regenerated"


class GateDecision(models.Model):
    """What the quality gate decided about one job: its score card and reasons in plain words."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    job = models.OneToOneField(GenerationJob, on_delete=models.CASCADE,
                               related_name="gate_decision")
    brief = models.ForeignKey("briefs.ContentBrief", on_delete=models.CASCADE,
                              related_name="gate_decisions")
    decision = models.CharField(max_length=20, choices=GateOutcome.choices, db_index=True)
    best_draft = models.ForeignKey(Draft, null=True, on_delete=models.SET_NULL, related_name="+")
    passed = models.BooleanField(help_text="the best variant met every hard rule")
    reasons = models.JSONField(default=list, blank=True)
    risks = models.JSONField(default=list, blank=True)
    required_group = models.CharField(max_length=150, blank=True,
                                      help_text="reviewer group whose approval is also needed")
    audit_sampled = models.BooleanField(default=False)
    regeneration = models.PositiveSmallIntegerField(
        default=0, help_text="0: first generation; n: the n-th automatic regeneration")
    gates = models.JSONField(default=list, blank=True, help_text="ids of the gates applied")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Gate on job {self.job_id}: {self.decision}"


class TextFingerprint(models.Model):
    """A revision's embedding and MinHash signature, stored once for near-duplicate search."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    revision = models.OneToOneField("reviews.DraftRevision", on_delete=models.CASCADE,
                                    related_name="fingerprint")
    embedding = models.BinaryField(help_text="float32 little-endian, unit length")
    embedding_model = models.CharField(max_length=200)
    signature = models.BinaryField(help_text="MinHash of 5-word shingles: uint64 little-endian")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Covers the read of a workspace's published ids before every job (the revision id
        # read from the index alone, not from the wide rows).
        indexes = [models.Index(fields=["workspace", "embedding_model", "revision"])]

    def __str__(self) -> str:
        return f"Fingerprint of revision {self.revision_id}"
