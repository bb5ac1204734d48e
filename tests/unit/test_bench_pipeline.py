"""bench/pipeline_efficiency.py's direct side (the bench itself runs for minutes, outside the
suite): it writes what the engine writes alone and scores every job's drafts."""

from __future__ import annotations

from pathlib import Path

from apps.generation.services import draft_text_clean
from bench.pipeline_efficiency import Job, run_direct
from workers.evaluation.embeddings import packaged_model_dir
from workers.evaluation.types import PublishedIndex, ScoringInput
from workers.generation.engine import generate
from workers.generation.types import GenerationRequest


def test_the_direct_side_writes_each_job_as_alone_and_scores_it(tiny_models_dir: Path) -> None:
    # Given three jobs of two sampled variants each
    requests = [GenerationRequest(prompt=f"Title: Notes {n}\n\n", variants=2, max_new_tokens=8,
                                  min_new_tokens=8, seed=1000 * n, temperature=0.8, device="cpu")
                for n in range(3)]
    jobs = [Job(r, [ScoringInput(draft_id=2 * n + v, brief_text="Notes", draft_text="",
                                 target_length=20, job_id=n) for v in range(2)])
            for n, r in enumerate(requests)]
    # When the direct side runs them two at a time and scores them two at a time
    result = run_direct(jobs, tiny_models_dir, packaged_model_dir(), PublishedIndex(), generating=2,
                        scoring=2, rows=8, torch_threads=1)
    # Then each job's texts are what it writes alone, and every job was scored once
    alone = [[draft_text_clean(t.text) for t in generate(r, models_dir=tiny_models_dir)]
             for r in requests]
    assert result.texts == alone
    assert len(result.stages["generation"]) == len(result.stages["scoring"]) == 3
    assert result.seconds > 0 and result.torch_threads == 1
