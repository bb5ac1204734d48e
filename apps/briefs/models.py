from django.conf import settings
from django.db import models

from apps.core.models import TimeStamped, Workspace
from apps.core.state_machine import StateMachine


class TargetFormat(models.TextChoices):
    """What a content type's text is written as, for the targets it goes to."""

    MARKDOWN = "markdown", "Markdown (CMS posts, static sites, newsletters)"
    TEXT = "text", "Plain text (ads, social posts, reply scripts)"


class ContentType(TimeStamped):
    """A kind of content (blog post, newsletter, social post) and how to prompt for it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="content_types")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    prompt_template = models.TextField(
        help_text="Python format fields: {title} {topic} {audience} {tone} {keywords} "
        "{target_length} {language} {source_material}"
    )
    default_length = models.PositiveIntegerField(
        default=120, help_text="words; characters when the language is Chinese or Japanese")
    default_variants = models.PositiveSmallIntegerField(default=3)
    language = models.CharField(max_length=16, default="en",
                                help_text="the language of a new brief that names none")
    model_profile = models.ForeignKey(
        "generation.ModelProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_format = models.CharField(max_length=16, choices=TargetFormat.choices,
                                     default=TargetFormat.MARKDOWN)
    style_guide = models.ForeignKey(
        "StyleGuide", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the style guide of a brief of this type that names none")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="content_type_slug_unique")
        ]

    def __str__(self) -> str:
        return self.name


class PromptTemplateVersion(models.Model):
    """A content type's prompt template as it was when a job used it; rows are never edited.

    Editing ContentType.prompt_template makes the next job add version n+1,
    so every draft can name the exact template that made it.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE,
                                     related_name="template_versions")
    version = models.PositiveIntegerField()
    template = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "version"],
                                    name="one_template_per_version")
        ]
        ordering = ["content_type_id", "-version"]

    def __str__(self) -> str:
        return f"{self.content_type} template v{self.version}"


class StyleGuide(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="style_guides")
    name = models.CharField(max_length=120)
    tone = models.CharField(max_length=200, blank=True)
    banned_terms = models.JSONField(default=list, blank=True)
    required_terms = models.JSONField(default=list, blank=True)
    example_texts = models.JSONField(default=list, blank=True)
    workspace_default = models.BooleanField(
        default=False, help_text="the style guide of a brief whose content type names none")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace"], condition=models.Q(workspace_default=True),
                                    name="one_default_style_guide_per_workspace")
        ]

    def __str__(self) -> str:
        return self.name


class BriefState(models.TextChoices):
    DRAFT = "draft"
    QUEUED = "queued"
    GENERATING = "generating"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = BriefState
BRIEF_MACHINE = StateMachine.of(
    "Brief",
    [
        (S.DRAFT, S.QUEUED),
        (S.QUEUED, S.GENERATING),
        (S.GENERATING, S.IN_REVIEW),
        (S.GENERATING, S.QUEUED),  # the quality gate asked for a rewrite
        (S.IN_REVIEW, S.APPROVED),
        (S.IN_REVIEW, S.CHANGES_REQUESTED),
        (S.IN_REVIEW, S.REJECTED),
        (S.CHANGES_REQUESTED, S.QUEUED),
        (S.APPROVED, S.SCHEDULED),
        (S.SCHEDULED, S.PUBLISHED),
        (S.SCHEDULED, S.APPROVED),  # every publication cancelled: it may be published again
        (S.QUEUED, S.FAILED),
        (S.GENERATING, S.FAILED),
        (S.SCHEDULED, S.FAILED),
        (S.FAILED, S.QUEUED),
        *[(src, S.CANCELLED) for src in (S.DRAFT, S.QUEUED, S.GENERATING, S.IN_REVIEW,
                                         S.CHANGES_REQUESTED)],
    ],
)


class Origin(models.TextChoices):
    DASHBOARD = "dashboard"
    API = "api"  # the REST API, its bulk import included
    WEBHOOK = "webhook"
    FEED = "feed"  # an RSS/Atom entry
    SCHEDULE = "schedule"  # a recurring brief's cron


class ContentBrief(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="briefs")
    title = models.CharField(max_length=200)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="briefs")
    style_guide = models.ForeignKey(
        StyleGuide, null=True, blank=True, on_delete=models.SET_NULL, related_name="briefs"
    )
    topic = models.TextField(max_length=2000)
    audience = models.CharField(max_length=200, blank=True)
    tone = models.CharField(max_length=200, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    target_length = models.PositiveIntegerField(help_text="words")
    variants = models.PositiveSmallIntegerField(default=3)
    language = models.CharField(max_length=16, default="en")
    source_material = models.TextField(blank=True, max_length=50_000)
    reference_texts = models.JSONField(default=list, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    priority = models.SmallIntegerField(default=0, help_text="higher runs first")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.DASHBOARD)
    external_id = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=24, choices=BriefState.choices, default=BriefState.DRAFT, db_index=True
    )
    feedback = models.TextField(blank=True, help_text="the last reviewer feedback, for regeneration")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "origin", "external_id"],
                condition=~models.Q(external_id=""),
                name="brief_external_id_unique",
            )
        ]
        indexes = [models.Index(fields=["workspace", "state", "-priority", "created_at"])]

    def __str__(self) -> str:
        return self.title
