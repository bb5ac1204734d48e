"""Model versions compared on what happened to their work: the quality gate, the reviewers,
their edits and the audience. It joins generation, evaluation, reviews and publishing, so it
lives here, above them all."""

from __future__ import annotations

from typing import Any

from apps.generation.models import GenerationJob, ModelProfile, ModelVersion
from apps.publishing.selectors import gate_report_rows
from apps.reviews.models import Decision, DraftRevision, Review
from workers.evaluation.comparison import edit_distance, mean, rate
from workers.evaluation.language import language as language_of


def model_version_comparison(*, workspace_id: int, profile_id: int | None = None
                             ) -> list[dict[str, Any]]:
    """One row per model version that wrote evaluated jobs of the workspace (of `profile_id`
    only, if given), newest version first, then one for jobs of no registry version (the
    built-in or another model), each figure with its count and 95 % interval:

    - gate_pass_rate: jobs whose best variant met every hard rule, of the jobs gated;
    - approval_rate: jobs whose first reviewer decision approved, of the jobs a reviewer
      decided (an auto-approval is the gate's, not a reviewer's);
    - edit_distance: of the approved jobs, the word-level distance from the model's text
      (revision 1) to the approved revision, over the longer text's words (0: unchanged);
    - engagement: per job with engagement data, the total of its published posts.

    Eight queries whatever the number of jobs (three of them the gate report's).
    """
    report = gate_report_rows(workspace_id=workspace_id)
    jobs = GenerationJob.objects.filter(pk__in=[r["job_id"] for r in report])
    if profile_id is not None:
        jobs = jobs.filter(model_profile_id=profile_id)
    version_of = dict(jobs.values_list("pk", "model_version_id"))
    approved: dict[int, tuple[int, str, str]] = {}  # job: (draft, approved text, language)
    for job_id, draft_id, text, tag in (
            Review.objects.filter(decision=Decision.APPROVE, superseded=False,
                                  revision__draft__job_id__in=version_of)
            .order_by("id").values_list("revision__draft__job_id", "revision__draft_id",
                                        "revision__text", "brief__language")):
        approved.setdefault(job_id, (draft_id, text, tag))
    originals = dict(DraftRevision.objects.filter(
        draft_id__in=[d for d, _, _ in approved.values()], number=1).values_list("draft_id", "text"))
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for row in report:
        if row["job_id"] in version_of:
            groups.setdefault(version_of[row["job_id"]], []).append(row)
    versions = ModelVersion.objects.filter(workspace_id=workspace_id, pk__in=list(groups)).in_bulk()
    candidate_of: dict[int, list[str]] = {}
    for name, candidate in ModelProfile.objects.filter(
            workspace_id=workspace_id, candidate_version_id__in=list(groups)).values_list(
            "name", "candidate_version_id"):
        candidate_of.setdefault(candidate, []).append(name)
    result = []
    for version_id in sorted(groups, key=lambda v: (v is None, -(versions[v].number if v else 0))):
        rows = groups[version_id]
        gated = [r["gate_passed"] for r in rows if r["gate_passed"] is not None]
        decided = [r["reviewer_decision"] for r in rows if r["reviewer_decision"]]
        distances = [edit_distance(originals[draft], text, language_of(tag))
                     for draft, text, tag in (approved[r["job_id"]] for r in rows
                                              if r["job_id"] in approved)
                     if draft in originals]
        version = versions.get(version_id) if version_id is not None else None
        result.append({
            "version_id": version_id,
            "number": version.number if version else None,
            "folder": version.folder if version else "",
            "archived": version.archived_at is not None if version else False,
            "candidate_of": sorted(candidate_of.get(version_id, [])) if version_id else [],
            "jobs": len(rows),
            "gate_pass_rate": rate(sum(gated), len(gated)).to_json(),
            "approval_rate": rate(decided.count(Decision.APPROVE), len(decided)).to_json(),
            "edit_distance": mean(distances).to_json(),
            "engagement": mean([r["engagement"] for r in rows
                                if r["engagement"] is not None]).to_json(),
        })
    return result
