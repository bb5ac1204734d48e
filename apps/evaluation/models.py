from django.db import models

from apps.generation.models import Draft


class Evaluation(models.Model):
    """The scores of one draft; `score` ranks a job's variants (higher is better)."""

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, related_name="evaluation")
    relevance = models.FloatField(help_text="cosine similarity of brief and draft embeddings")
    length_fit = models.FloatField(help_text="1.0 at the target length, falling off either side")
    score = models.FloatField(db_index=True)
    metrics = models.JSONField(default=dict, blank=True)
    embedding_model = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Evaluation of draft {self.draft_id}: {self.score:.2f}"
