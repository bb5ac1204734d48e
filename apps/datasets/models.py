"""A workspace's training data: datasets, the documents imported into them, and immutable
built versions (cleaned, deduplicated, split). Documents live in JSONL files under
DATASETS_DIR/workspaces/<workspace id>/dataset-<id>/; rows hold paths, counts and stats."""

from django.db import models

from apps.core.models import TimeStamped, Workspace


class Dataset(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"],
                                               name="one_dataset_name_per_workspace")]

    def __str__(self) -> str:
        return self.name


class ImportSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    PUBLISHED = "published", "Published revisions"
    APPROVED = "approved", "Approved revisions, reviewers' edits included"
    FEEDS = "feeds", "Feed entries"
    TARGET = "target", "Posts of a WordPress or Ghost target"


class ImportState(models.TextChoices):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class DatasetImport(models.Model):
    """One batch of raw documents added to a dataset; a target's posts are fetched by a task."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    source = models.CharField(max_length=16, choices=ImportSource.choices)
    label = models.CharField(max_length=300, help_text="the file's name, the target's name, ...")
    target_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=ImportState.choices, default=ImportState.DONE)
    documents = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.source}: {self.label}"


class VersionState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DatasetVersion(models.Model):
    """A build of the dataset's imports at one moment, by fixed options: once succeeded,
    nothing changes it (its files are written once, then renamed into place)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=VersionState.choices,
                             default=VersionState.QUEUED)
    options = models.JSONField(default=dict, help_text="the cleaning options it was built with")
    import_ids = models.JSONField(default=list, help_text="the imports it was built from")
    stats = models.JSONField(default=dict, blank=True)
    samples = models.JSONField(default=list, blank=True,
                               help_text="a few cleaned documents beside their originals")
    card = models.TextField(blank=True, help_text="the data card (Markdown)")
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    worker_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved by every progress report of a running build: its worker's heartbeat.
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"],
                                               name="one_dataset_version_number")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class RetrainPolicy(TimeStamped):
    """A workspace's optional retrain schedule: once `approved_threshold` new approved pieces
    have arrived, the approved revisions are imported into `dataset` and a version is built;
    once built, a fine-tuning run on it (from `base_version`, else the built-in model) writes
    a version that becomes `profile`'s A/B candidate at `candidate_share`, never its model.
    The beat tick (`retrain_policies_tick`) moves it on; the fields below the line are its
    state."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    approved_threshold = models.PositiveIntegerField(
        help_text="N: retrain once this many new approved pieces have arrived")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    base_version = models.ForeignKey("generation.ModelVersion", null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="+",
                                     help_text="fine-tuned from; empty: the built-in model")
    profile = models.ForeignKey("generation.ModelProfile", on_delete=models.CASCADE,
                                related_name="+", help_text="whose candidate the result becomes")
    candidate_share = models.FloatField(default=0.1)
    training_parameters = models.JSONField(default=dict, blank=True)
    # ---
    approved_through = models.BigIntegerField(
        default=0, help_text="the last approved revision counted by the previous retrain")
    pending_version = models.ForeignKey(DatasetVersion, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+",
                                        help_text="the build a run waits for")
    last_run = models.ForeignKey("generation.TrainingRun", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    last_error = models.CharField(max_length=1000, blank=True)

    def __str__(self) -> str:
        return f"retrain after {self.approved_threshold} approved"
