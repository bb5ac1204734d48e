from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.briefs.models import ContentBrief
from apps.core.models import TimeStamped, Workspace
from apps.core.state_machine import StateMachine


class Backend(models.TextChoices):
    BUILTIN = "builtin", "Built-in model"
    TRANSFORMERS = "transformers", "Hugging Face transformers"
    OPENAI = "openai", "OpenAI-compatible server"


class ModelProfile(TimeStamped):
    """Which model writes, with what defaults, on which queue and device."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_profiles")
    name = models.CharField(max_length=120)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.BUILTIN)
    model = models.CharField(
        max_length=500, blank=True,
        help_text="builtin/transformers: a folder of the workspace's own or the shared models "
                  "(or builtin); openai: the server's model name"
    )
    parameters = models.JSONField(
        default=dict, blank=True, help_text="defaults: temperature, top_p, max_new_tokens"
    )
    queue = models.CharField(max_length=60, default="generation")
    device = models.CharField(max_length=20, default="auto", help_text="auto, cpu, cuda, cuda:1")
    base_url = models.URLField(
        max_length=500, blank=True, help_text="openai: the server's base URL, e.g. http://gpu:8000/v1"
    )
    api_key_env = models.CharField(
        max_length=100, blank=True,
        help_text="openai: name of the worker's environment variable holding the API key",
    )
    api_key_encrypted = models.TextField(
        blank=True, editable=False, help_text="openai: the API key, encrypted (apps.core.crypto)"
    )
    timeout_s = models.PositiveIntegerField(
        default=600, help_text="a job running longer than this fails as timed out"
    )
    # A/B: this share of the profile's briefs is written by the candidate, drawn per brief
    # (apps.generation.routing), so a brief's regenerations stay with the same version.
    candidate_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="a version of the workspace tried on a share of the briefs")
    candidate_share = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="0 to 1: the share of briefs the candidate writes")

    def __str__(self) -> str:
        return self.name


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    EVALUATING = "evaluating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


J = JobState
JOB_MACHINE = StateMachine.of(
    "Job",
    [
        (J.QUEUED, J.RUNNING),
        (J.RUNNING, J.EVALUATING),
        (J.EVALUATING, J.SUCCEEDED),
        (J.RUNNING, J.QUEUED),  # requeued by the sweeper when its worker died
        (J.QUEUED, J.FAILED),
        (J.RUNNING, J.FAILED),
        (J.EVALUATING, J.FAILED),
        (J.QUEUED, J.CANCELLED),
        (J.RUNNING, J.CANCELLED),
        (J.EVALUATING, J.CANCELLED),
    ],
)


class GenerationJob(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    brief = models.ForeignKey(ContentBrief, on_delete=models.CASCADE, related_name="jobs")
    model_profile = models.ForeignKey(
        ModelProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    state = models.CharField(
        max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    variants = models.PositiveSmallIntegerField()
    prompt = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker_id = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_s = models.FloatField(null=True, blank=True, help_text="claim to drafts recorded")
    first_token_s = models.FloatField(null=True, blank=True, help_text="claim to first token")
    device_seconds = models.FloatField(default=0.0, help_text="share of forward passes")
    retries = models.PositiveIntegerField(default=0, help_text="transient failures retried")
    prompt_template_version = models.ForeignKey(
        "briefs.PromptTemplateVersion", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    error = models.TextField(blank=True)
    # The registry version that writes it: the profile's candidate when the A/B draw picks it,
    # else the version the profile runs (null for the built-in model or another model).
    model_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"Job {self.pk} for brief {self.brief_id}"


class Draft(models.Model):
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="drafts")
    brief = models.ForeignKey(ContentBrief, on_delete=models.CASCADE, related_name="drafts")
    variant = models.PositiveSmallIntegerField()
    text = models.TextField()
    model_name = models.CharField(max_length=500)
    model_revision = models.CharField(max_length=100, blank=True)
    seed = models.BigIntegerField()
    parameters = models.JSONField(default=dict)
    prompt = models.TextField(blank=True, help_text="the rendered prompt the model was given")
    prompt_template_version = models.ForeignKey(
        "briefs.PromptTemplateVersion", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "variant"], name="one_draft_per_job_variant")
        ]
        ordering = ["job_id", "variant"]

    def __str__(self) -> str:
        return f"Draft {self.variant} of job {self.job_id}"


class GenerationQuota(TimeStamped):
    """A workspace's monthly caps and concurrency; a workspace without one is unlimited."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE,
                                     related_name="generation_quota")
    monthly_tokens = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="prompt + completion tokens per calendar month (UTC)")
    monthly_device_seconds = models.FloatField(
        null=True, blank=True, help_text="device seconds per calendar month (UTC)")
    max_running_jobs = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="jobs of this workspace generating at once")

    def __str__(self) -> str:
        return f"Generation quota of {self.workspace}"


class TrainingKind(models.TextChoices):
    TRAIN = "train", "Train a new model from scratch"
    FINETUNE = "finetune", "Fine-tune on the workspace's published texts"


class TrainingState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


T = TrainingState
TRAINING_ACTIVE = (T.QUEUED, T.RUNNING)  # a run with work ahead: it can be cancelled or stopped
TRAINING_MACHINE = StateMachine.of(
    "Training",
    [(T.QUEUED, T.RUNNING), (T.RUNNING, T.SUCCEEDED), (T.QUEUED, T.FAILED), (T.RUNNING, T.FAILED),
     (T.RUNNING, T.QUEUED), (T.QUEUED, T.CANCELLED), (T.RUNNING, T.CANCELLED)],
)


class TrainingRun(TimeStamped):
    """Training or fine-tuning as a job on the generation queue; loss streams live meanwhile."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=TrainingKind.choices)
    state = models.CharField(max_length=16, choices=TrainingState.choices,
                             default=TrainingState.QUEUED, db_index=True)
    parameters = models.JSONField(default=dict, blank=True, help_text="steps, max_seconds, ...")
    base_model = models.CharField(max_length=500, blank=True)
    output_model = models.CharField(max_length=500, blank=True, help_text="the folder written")
    revision = models.CharField(max_length=100, blank=True)
    documents = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    final_loss = models.FloatField(null=True, blank=True)
    heldout_perplexity_before = models.FloatField(null=True, blank=True)
    heldout_perplexity_after = models.FloatField(null=True, blank=True)
    loss_curve = models.JSONField(default=list, blank=True, help_text="[step, loss] pairs")
    worker_id = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Training data from a dataset version (the datasets app sits above this one, so a plain
    # id and the version's folder, relative to DATASETS_DIR), instead of the default corpus.
    dataset_version_id = models.PositiveBigIntegerField(null=True, blank=True)
    data_path = models.CharField(max_length=500, blank=True,
                                 help_text="the dataset version's folder (train/test JSONL)")
    base_version = models.ForeignKey("ModelVersion", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+",
                                     help_text="fine-tune this version instead of the built-in")
    # The workspace's accounting (see apps.generation.accounting): what the run used over all
    # its attempts, counted in the monthly budget beside the generation jobs'.
    tokens_trained = models.PositiveBigIntegerField(default=0)
    device_seconds = models.FloatField(default=0.0, help_text="seconds a worker held the run")
    tokens_per_step = models.PositiveIntegerField(
        default=0, help_text="at most: batch size x window, set when a worker claims it")
    budget_tokens = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="tokens_trained may reach this (null: unlimited)")
    budget_seconds = models.FloatField(
        null=True, blank=True, help_text="device_seconds may reach this (null: unlimited)")
    # A scheduled retrain's run: its version becomes this profile's A/B candidate with this
    # share, never promoted (and the house profile is left where it is).
    candidate_for = models.ForeignKey(ModelProfile, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    candidate_share = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.state})"


class ModelVersion(models.Model):
    """A model a training run of the workspace wrote: its folder in the workspace's own
    models, what it was trained on, and its figures. Versions are numbered per workspace;
    an archived one can no longer be promoted."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    training_run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT,
                                        related_name="model_version")
    folder = models.CharField(max_length=500, help_text="in the workspace's models: run-<id>")
    revision = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=TrainingKind.choices)
    base = models.CharField(max_length=500, help_text="builtin, or the base version's folder")
    dataset_version_id = models.PositiveBigIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, help_text="held-out perplexity, loss, steps, ...")
    card = models.TextField(blank=True, help_text="the model card (Markdown)")
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["workspace", "number"],
                                               name="one_model_version_number")]

    def __str__(self) -> str:
        return f"v{self.number} ({self.folder})"


class SuiteRun(TimeStamped):
    """The evaluation suite run on a model version (apps.workflow.model_suite): a fixed set of
    test briefs written by the version on a generation worker, scored and held to the
    workspace's gate; the means and the gate pass rate become the version's
    `metrics["suite"]`. Its states are a training run's; `updated_at` moves after each brief
    (its heartbeat). What its drafts used counts in the workspace's monthly usage as a job's
    does, added after each brief."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="suite_runs")
    state = models.CharField(max_length=16, choices=TrainingState.choices,
                             default=TrainingState.QUEUED, db_index=True)
    worker_id = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=list, blank=True,
                               help_text="per brief: its language, the draft, its scores and "
                                         "the gate's decision")
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    device_seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Suite run {self.pk} of {self.version_id} ({self.state})"


class ModelPromotion(models.Model):
    """A profile pointed at a version; `previous_model` is what a rollback restores."""

    profile = models.ForeignKey(ModelProfile, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    previous_model = models.CharField(max_length=500, blank=True)
    previous_backend = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.profile_id} → v{self.version_id}"


class CheckState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProfileCheck(TimeStamped):
    """A short test generation of a model profile, asked for by an admin from its settings:
    a fixed prompt and a few dozen tokens, run by a worker of the profile's queue as a job
    is. It has no brief, so it never enters the queue, the board or insights; its tokens and
    device seconds count in the workspace's monthly usage as a job's do."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    model_profile = models.ForeignKey(ModelProfile, on_delete=models.CASCADE,
                                      related_name="checks")
    state = models.CharField(max_length=16, choices=CheckState.choices,
                             default=CheckState.QUEUED)
    requested_by = models.ForeignKey("auth.User", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    worker_id = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    text = models.TextField(blank=True)
    model_name = models.CharField(max_length=500, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    device_seconds = models.FloatField(default=0.0)
    latency_s = models.FloatField(null=True, blank=True, help_text="claim to text written")
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["model_profile", "-id"], name="profile_check_latest")]

    def __str__(self) -> str:
        return f"Check {self.pk} of {self.model_profile_id}"
