"""Datasets: create one, import documents into it, build immutable cleaned versions.

Imports append raw documents (JSONL, one file per import) from an upload, the
workspace's published revisions, its feed entries, or a WordPress or Ghost target's
existing posts (fetched by a task through the connector, so the egress policy applies).
A build cleans every import done at the time it is asked for, with options checked
here, as a job on the default queue; its files are written once and never changed.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import fields
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import DomainError, IllegalTransition
from apps.core.models import Workspace
from apps.core.realtime import progress_send
from apps.core.services import Actor, audit_record, event_emit
from apps.datasets.models import (
    Dataset,
    DatasetImport,
    DatasetVersion,
    ImportSource,
    ImportState,
    VersionState,
)
from apps.datasets.selectors import (
    approved_preferences,
    approved_revision_texts,
    feed_entry_texts,
)
from apps.generation.models import ModelProfile, TrainingRun
from apps.generation.registry import model_versions
from apps.generation.training import training_run_create
from apps.publishing.connectors import connector_for
from apps.publishing.connectors.base import ArchiveConnector, PublishError
from apps.publishing.models import PublishingTarget, TargetKind
from apps.publishing.selectors import published_texts
from workers.datasets.card import data_card
from workers.datasets.cleaning import clean, normalise, scrub_pii
from workers.datasets.files import UploadRefused, upload_documents
from workers.datasets.store import jsonl_read, jsonl_write
from workers.datasets.types import HTML, SPLITS, TEXT, CleaningOptions, RawDocument
from workers.egress import EgressRefused

logger = logging.getLogger(__name__)

TARGET_KINDS = (TargetKind.WORDPRESS, TargetKind.GHOST)
TARGET_POSTS_MAX = 5_000  # per import: a large archive is imported in several
_FEED_SOURCE_LINE = re.compile(r"\n\nSource: \S+\s*$")  # what a feed entry's brief appends


def dataset_dir(dataset: Dataset) -> Path:
    return Path(settings.DATASETS_DIR) / "workspaces" / str(dataset.workspace_id) / (
        f"dataset-{dataset.pk}")


def import_path(item: DatasetImport) -> Path:
    return dataset_dir(item.dataset) / "imports" / f"{item.pk}.jsonl"


def version_dir(version: DatasetVersion) -> Path:
    return dataset_dir(version.dataset) / f"v{version.number}"


def split_path(version: DatasetVersion, split: str) -> Path:
    return version_dir(version) / f"{split}.jsonl"


def import_preferences_path(item: DatasetImport) -> Path:
    return import_path(item).with_name(f"{item.pk}.preferences.jsonl")


def preferences_path(version: DatasetVersion) -> Path:
    """The version's preference pairs (prompt, chosen, rejected), one JSON object a line."""
    return version_dir(version) / "preferences.jsonl"


def version_preferences(version: DatasetVersion) -> Iterator[dict[str, Any]]:
    """The version's preference pairs; none for a version built before they were kept."""
    path = preferences_path(version)
    return jsonl_read(path) if path.is_file() else iter(())


def version_texts(version: DatasetVersion, split: str) -> list[str]:
    """The cleaned texts of one split of a built version."""
    return [row["text"] for row in jsonl_read(split_path(version, split))]


@transaction.atomic
def dataset_create(*, workspace: Workspace, name: str, description: str = "",
                   actor: Actor = None) -> Dataset:
    name = name.strip()
    if not name:
        raise DomainError("A dataset needs a name.")
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(workspace=workspace, name=name,
                                             description=description)
    except IntegrityError:
        raise DomainError(f"The workspace already has a dataset called {name!r}.") from None
    audit_record(workspace_id=workspace.pk, action="dataset.created", subject=dataset, actor=actor)
    return dataset


def _import_record(dataset: Dataset, source: str, label: str, documents: list[RawDocument],
                   actor: Actor, preferences: Sequence[dict[str, str]] = ()) -> DatasetImport:
    if not documents:
        raise DomainError(f"Nothing to import from {label}: no documents found.")
    item = DatasetImport.objects.create(dataset=dataset, source=source, label=label[:300],
                                        documents=len(documents))
    jsonl_write(import_path(item), (d.to_json() for d in documents))
    if preferences:
        jsonl_write(import_preferences_path(item), preferences)
    audit_record(workspace_id=dataset.workspace_id, action="dataset.imported", subject=dataset,
                 actor=actor, after={"import_id": item.pk, "source": source,
                                     "documents": len(documents),
                                     "preference_pairs": len(preferences)})
    return item


@transaction.atomic
def dataset_import_upload(*, dataset: Dataset, filename: str, data: bytes,
                          actor: Actor = None) -> DatasetImport:
    """An uploaded txt, md, html, csv or jsonl file, or a zip of them (see workers.datasets.files
    for the limits); a file that cannot be read is refused whole, with the reason."""
    try:
        documents = upload_documents(filename, data)
    except UploadRefused as exc:
        raise DomainError(str(exc)) from None
    return _import_record(dataset, ImportSource.UPLOAD, filename, documents, actor)


@transaction.atomic
def dataset_import_published(*, dataset: Dataset, actor: Actor = None) -> DatasetImport:
    """Every revision the workspace published (Markdown), once each."""
    texts = list(dict.fromkeys(published_texts(workspace_id=dataset.workspace_id)))
    documents = [RawDocument(id=f"published#{i}", text=text, format=TEXT, source="published")
                 for i, text in enumerate(texts, start=1)]
    return _import_record(dataset, ImportSource.PUBLISHED, "published revisions", documents,
                          actor)


@transaction.atomic
def dataset_import_approved(*, dataset: Dataset, actor: Actor = None) -> DatasetImport:
    """Feedback: every revision a reviewer approved, with the reviewer's edits (Markdown),
    the best received by the audience weighted twice in training. The drafts reviewers
    passed over are no documents: they come as preference pairs beside them (prompt, the
    approved text chosen, a passed-over draft of the same brief rejected), which a build
    keeps in its version for a method that learns from negatives (the built-in training,
    plain continuation, reads documents only)."""
    workspace_id = dataset.workspace_id
    documents = [RawDocument(id=f"approved:{pk}", text=text, title=title, format=TEXT,
                             source="approved", weight=weight)
                 for pk, title, text, weight in approved_revision_texts(workspace_id=workspace_id)]
    preferences = [{"id": f"approved:{pk}", "prompt": prompt, "chosen": chosen,
                    "rejected": rejected}
                   for pk, prompt, chosen, rejected in approved_preferences(
                       workspace_id=workspace_id)]
    return _import_record(dataset, ImportSource.APPROVED, "approved revisions", documents,
                          actor, preferences)


@transaction.atomic
def dataset_import_feeds(*, dataset: Dataset, actor: Actor = None) -> DatasetImport:
    """Every entry the workspace's feeds brought in, as its brief kept it (HTML)."""
    documents = [RawDocument(id=f"feed:{entry_id}", title=title, format=HTML, source="feeds",
                             text=_FEED_SOURCE_LINE.sub("", material))
                 for entry_id, title, material in feed_entry_texts(
                     workspace_id=dataset.workspace_id)]
    return _import_record(dataset, ImportSource.FEEDS, "feed entries", documents, actor)


@transaction.atomic
def dataset_import_target(*, dataset: Dataset, target_id: int, actor: Actor = None
                          ) -> DatasetImport:
    """Queue an import of a WordPress or Ghost target's published posts (of the dataset's
    own workspace: another workspace's target is not found)."""
    target = PublishingTarget.objects.filter(pk=target_id, workspace_id=dataset.workspace_id
                                             ).first()
    if target is None:
        raise DomainError(f"No publishing target {target_id} in this workspace.")
    if target.kind not in TARGET_KINDS:
        raise DomainError(f"Posts can be imported from WordPress and Ghost targets; "
                          f"{target.name!r} is a {target.kind} target.")
    item = DatasetImport.objects.create(dataset=dataset, source=ImportSource.TARGET,
                                        label=target.name, target_id=target.pk,
                                        state=ImportState.QUEUED)
    audit_record(workspace_id=dataset.workspace_id, action="dataset.import_queued",
                 subject=dataset, actor=actor, after={"import_id": item.pk,
                                                      "target_id": target.pk})
    transaction.on_commit(lambda: current_app.send_task("datasets.import_target",
                                                        args=[item.pk]))
    return item


def dataset_import_source(*, dataset: Dataset, source: str, actor: Actor = None,
                          upload: File[Any] | None = None, target_id: int | None = None
                          ) -> DatasetImport:
    """One import from `source` as the page and the API name it: the `upload`, the
    workspace's own published or approved revisions or feed entries, or the posts of the
    target `target_id` (queued)."""
    if source == ImportSource.UPLOAD:
        if upload is None:
            raise DomainError("Choose a file to upload.")
        return dataset_import_upload(dataset=dataset, filename=upload.name or "upload",
                                     data=upload.read(), actor=actor)
    if source == ImportSource.PUBLISHED:
        return dataset_import_published(dataset=dataset, actor=actor)
    if source == ImportSource.APPROVED:
        return dataset_import_approved(dataset=dataset, actor=actor)
    if source == ImportSource.FEEDS:
        return dataset_import_feeds(dataset=dataset, actor=actor)
    if target_id is None:
        raise DomainError("Choose the target to import posts from.")
    return dataset_import_target(dataset=dataset, target_id=target_id, actor=actor)


def dataset_import_target_run(*, import_id: int) -> str:
    """Fetch a queued target import's posts and store them (the task's body). Idempotent: a
    redelivered message for a finished import does nothing."""
    item = DatasetImport.objects.select_related("dataset").filter(
        pk=import_id, state=ImportState.QUEUED).first()
    if item is None:
        return "skipped"
    target = (PublishingTarget.objects.filter(pk=item.target_id,
                                              workspace_id=item.dataset.workspace_id).first()
              if item.target_id is not None else None)
    try:
        connector = connector_for(target) if target is not None else None
        if target is None or not isinstance(connector, ArchiveConnector):
            raise DomainError("The target was deleted, or its posts cannot be read back.")
        posts = connector.list_posts(TARGET_POSTS_MAX)
    except (PublishError, DomainError, EgressRefused) as exc:
        DatasetImport.objects.filter(pk=item.pk, state=ImportState.QUEUED).update(
            state=ImportState.FAILED, error=str(exc)[:1000])
        return "failed"
    documents = [RawDocument(id=f"{target.kind}:{p.external_id}", text=p.html, title=p.title,
                             format=HTML, source=p.url or target.name) for p in posts]
    jsonl_write(import_path(item), (d.to_json() for d in documents))
    DatasetImport.objects.filter(pk=item.pk, state=ImportState.QUEUED).update(
        state=ImportState.DONE, documents=len(documents))
    return "imported"


def cleaning_options(values: dict[str, Any]) -> CleaningOptions:
    """The build options from JSON, each checked; DomainError lists every problem."""
    known = {f.name for f in fields(CleaningOptions)}
    errors = [f"Unknown option '{name}'; known: {', '.join(sorted(known))}."
              for name in values if name not in known]

    def number(name: str, low: float, high: float, whole: bool) -> None:
        value = values.get(name)
        if name not in values:
            return
        kinds = int if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            errors.append(f"'{name}' must be a {'whole ' if whole else ''}number from "
                          f"{low:g} to {high:g}.")

    number("min_chars", 0, 10**7, True)
    number("max_chars", 1, 10**8, True)
    number("near_duplicate_threshold", 0.05, 1.0, False)
    number("seed", 0, 2**32 - 1, True)
    number("validation_share", 0.0, 0.5, False)
    number("test_share", 0.0, 0.5, False)
    for flag in ("scrub_pii", "remove_boilerplate"):
        if flag in values and not isinstance(values[flag], bool):
            errors.append(f"'{flag}' must be true or false.")
    languages = values.get("languages", [])
    if not isinstance(languages, list) or not all(
            isinstance(c, str) and re.fullmatch(r"[a-z]{2}", c) for c in languages):
        errors.append("'languages' must be a list of two-letter ISO 639-1 codes, e.g. [\"en\"].")
    if not errors and values.get("min_chars", 0) > values.get("max_chars", 10**8):
        errors.append("'min_chars' must not be above 'max_chars'.")
    if errors:
        raise DomainError(" ".join(errors))
    return CleaningOptions(**{**values, "languages": tuple(languages)})


@transaction.atomic
def dataset_version_create(*, dataset: Dataset, options: dict[str, Any] | None = None,
                           actor: Actor = None) -> DatasetVersion:
    """A queued build of every finished import, numbered after the last version; it runs on
    the default queue after commit."""
    parsed = cleaning_options(options or {})
    Dataset.objects.select_for_update().filter(pk=dataset.pk).first()  # numbers in order
    import_ids = list(dataset.imports.filter(state=ImportState.DONE, documents__gt=0)
                      .values_list("pk", flat=True))
    if not import_ids:
        raise DomainError("Import documents into the dataset before building it.")
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = DatasetVersion.objects.create(dataset=dataset, workspace_id=dataset.workspace_id,
                                            number=number, options=parsed.to_json(),
                                            import_ids=import_ids)
    audit_record(workspace_id=dataset.workspace_id, action="dataset.build_queued",
                 subject=version, actor=actor, after={"options": version.options})
    event_emit(workspace_id=dataset.workspace_id, type="dataset.build_queued", subject=version,
               payload={"dataset_id": dataset.pk, "dataset_version_id": version.pk})
    transaction.on_commit(lambda: current_app.send_task("datasets.build", args=[version.pk]))
    return version


class BuildStopped(Exception):
    """The build was cancelled (or taken from this worker): it stops at this report."""


def dataset_build_progress(version: DatasetVersion, worker_id: str, done: int, total: int
                           ) -> None:
    """Store the build's progress and tell it live to the workspace's admins' sockets alone
    (only they read datasets); BuildStopped once the build is no longer this worker's."""
    share = round(done / total, 3) if total else 1.0
    if not DatasetVersion.objects.filter(pk=version.pk, state=VersionState.RUNNING,
                                         worker_id=worker_id).update(progress=share,
                                                                     updated_at=timezone.now()):
        raise BuildStopped
    progress_send(workspace_id=version.workspace_id, type="dataset.progress", subject=version,
                  payload={"dataset_version_id": version.pk, "dataset_id": version.dataset_id,
                           "documents_done": done, "documents": total, "progress": share},
                  admins_only=True)


def _raw_documents(imports: Sequence[DatasetImport]) -> list[RawDocument]:
    return [RawDocument(**row) for item in imports for row in jsonl_read(import_path(item))]


def _preference_pairs(imports: Sequence[DatasetImport], options: CleaningOptions
                      ) -> list[dict[str, str]]:
    """The preference pairs of a version's imports, normalised as documents are (and
    scrubbed of personal data when the options say), each once; a pair whose chosen and
    rejected texts come out the same, or empty, is dropped."""
    kept: dict[tuple[str, str, str], str] = {}
    for item in imports:
        path = import_preferences_path(item)
        for row in jsonl_read(path) if path.is_file() else ():
            texts = [normalise(row[name]) for name in ("prompt", "chosen", "rejected")]
            if options.scrub_pii:
                texts = [scrub_pii(text)[0] for text in texts]
            prompt, chosen, rejected = texts
            if chosen and rejected and chosen != rejected:
                kept.setdefault((prompt, chosen, rejected), row["id"])
    return [{"id": pair_id, "prompt": prompt, "chosen": chosen, "rejected": rejected}
            for (prompt, chosen, rejected), pair_id in kept.items()]


def _write_version(version: DatasetVersion, splits: dict[str, list[Any]],
                   preferences: list[dict[str, str]], card: str) -> None:
    """The split files, the preference pairs and the card, written beside the final folder
    and renamed into it."""
    final = version_dir(version)
    building = final.with_name(f".{final.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    for split in SPLITS:
        jsonl_write(building / f"{split}.jsonl", (d.to_json() for d in splits[split]))
    jsonl_write(building / preferences_path(version).name, preferences)
    (building / "README.md").write_text(card, encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)  # a build redelivered after its worker died
    building.rename(final)


def dataset_version_build(*, version_id: int, worker_id: str) -> str:
    """Claim a queued version (queued → running, once), clean its documents with live
    progress, write its files and record its stats and card (→ succeeded), or record why
    it failed. Returns what happened, for the worker's log."""
    claimed = DatasetVersion.objects.filter(pk=version_id, state=VersionState.QUEUED).update(
        state=VersionState.RUNNING, worker_id=worker_id, updated_at=timezone.now())
    if not claimed:
        return "skipped"
    version = DatasetVersion.objects.select_related("dataset").get(pk=version_id)
    try:
        imports = list(DatasetImport.objects.filter(pk__in=version.import_ids).order_by("pk"))
        options = cleaning_options(version.options)
        result = clean(_raw_documents(imports), options,
                       lambda done, total: dataset_build_progress(version, worker_id, done, total))
        if not result.splits["train"]:
            raise DomainError("No document is left after cleaning; loosen the options "
                              f"(dropped: {result.stats['dropped']}).")
        preferences = _preference_pairs(imports, options)
        result.stats["preference_pairs"] = len(preferences)
        card = data_card(title=f"{version.dataset.name}, version {version.number}",
                         description=version.dataset.description,
                         sources=[item.label for item in imports],
                         options=version.options, stats=result.stats)
        _write_version(version, result.splits, preferences, card)
    except BuildStopped:
        return "stopped"
    except DomainError as exc:
        dataset_version_fail(version_id=version_id, error=str(exc))
        return "failed"
    except Exception as exc:
        # Left running, the build would be requeued by the reconciler and fail again forever.
        logger.exception("build of dataset version %s failed", version_id)
        dataset_version_fail(version_id=version_id, error=f"The build failed "
                             f"({type(exc).__name__}); the worker's log has the details.")
        return "failed"
    _version_succeed(version, worker_id, result.stats, result.samples, card)
    return "built"


@transaction.atomic
def _version_succeed(version: DatasetVersion, worker_id: str, stats: dict[str, Any],
                     samples: list[dict[str, str]], card: str) -> None:
    if not DatasetVersion.objects.filter(pk=version.pk, state=VersionState.RUNNING,
                                         worker_id=worker_id).update(
            state=VersionState.SUCCEEDED, stats=stats, samples=samples, card=card, progress=1.0,
            finished_at=timezone.now()):
        return  # cancelled after its last progress report
    event_emit(workspace_id=version.workspace_id, type="dataset.built", subject=version,
               payload={"dataset_id": version.dataset_id, "dataset_version_id": version.pk,
                        "documents": stats["documents"], "tokens": stats["tokens"]})


# A build reports progress every 50 documents (seconds apart); one silent this many
# heartbeat timeouts (10 minutes by default) lost its worker.
BUILD_STALE_FACTOR = 5


def dataset_versions_requeue_stale(*, older_than: timedelta | None = None) -> list[int]:
    """running → queued for builds whose worker stopped reporting progress (killed, lost),
    each sent to a worker again after commit; a build starts over (its files are written
    only at the end). Returns the requeued ids."""
    if older_than is None:
        older_than = timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S * BUILD_STALE_FACTOR)
    requeued = []
    for pk in DatasetVersion.objects.filter(
            state=VersionState.RUNNING, updated_at__lt=timezone.now() - older_than
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if not DatasetVersion.objects.filter(pk=pk, state=VersionState.RUNNING).update(
                    state=VersionState.QUEUED, worker_id="", progress=0.0,
                    updated_at=timezone.now()):
                continue
            transaction.on_commit(partial(current_app.send_task, "datasets.build", args=[pk]))
        requeued.append(pk)
    return requeued


@transaction.atomic
def dataset_version_fail(*, version_id: int, error: str) -> bool:
    """queued or running → failed with the reason the admin reads; False if it had ended."""
    version = DatasetVersion.objects.filter(
        pk=version_id, state__in=(VersionState.QUEUED, VersionState.RUNNING)).first()
    if version is None:
        return False
    DatasetVersion.objects.filter(pk=version.pk).update(
        state=VersionState.FAILED, error=error[:5000], finished_at=timezone.now())
    event_emit(workspace_id=version.workspace_id, type="dataset.build_failed", subject=version,
               payload={"dataset_id": version.dataset_id, "dataset_version_id": version.pk,
                        "error": error[:500]})
    return True


@transaction.atomic
def dataset_version_cancel(*, version: DatasetVersion, actor: Actor = None) -> DatasetVersion:
    """queued or running → cancelled; IllegalTransition (409) once the build ended. A running
    build's worker stops at its next progress report (every 50 documents) and writes
    nothing more."""
    if not DatasetVersion.objects.filter(
            pk=version.pk, state__in=(VersionState.QUEUED, VersionState.RUNNING)).update(
            state=VersionState.CANCELLED, finished_at=timezone.now()):
        version.refresh_from_db(fields=["state"])
        raise IllegalTransition(f"Version {version.number} of {version.dataset.name!r} cannot "
                                f"be cancelled: it is {version.state}.")
    version.refresh_from_db(fields=["state", "finished_at"])
    audit_record(workspace_id=version.workspace_id, action="dataset.build_cancelled",
                 subject=version, actor=actor)
    event_emit(workspace_id=version.workspace_id, type="dataset.build_cancelled",
               subject=version, payload={"dataset_id": version.dataset_id,
                                         "dataset_version_id": version.pk})
    return version


@transaction.atomic
def dataset_version_train(*, version: DatasetVersion, kind: str,
                          parameters: dict[str, Any] | None = None,
                          base_version_id: int | None = None, base_model: str = "",
                          candidate_for: ModelProfile | None = None, candidate_share: float = 0.0,
                          actor: Actor = None) -> TrainingRun:
    """A training run on a built version: its train split trains, its test split measures
    the held-out perplexity. Fine-tuning starts from the built-in model, from a version of
    the workspace's own registry (`base_version_id`; another workspace's is not found), or
    from a local Hugging Face causal LM folder the workspace may read (`base_model`). With
    `candidate_for`, the version it writes becomes that profile's A/B candidate."""
    if version.state != VersionState.SUCCEEDED:
        raise DomainError(f"Version {version.number} of {version.dataset.name!r} is not built "
                          f"({version.state}); train on a succeeded version.")
    splits = version.stats["splits"]
    if not splits["train"]["documents"] or not splits["test"]["documents"]:
        raise DomainError(f"Version {version.number} needs documents in its train and test "
                          "splits (the test split measures the held-out perplexity); build "
                          "one with a test_share above 0.")
    base = None
    if base_version_id is not None:
        base = model_versions(workspace_id=version.workspace_id).filter(
            pk=base_version_id).first()
        if base is None:
            raise DomainError(f"No model version {base_version_id} in this workspace.")
    data_path = version_dir(version).relative_to(Path(settings.DATASETS_DIR))
    return training_run_create(workspace_id=version.workspace_id, kind=kind,
                               parameters=parameters, actor=actor, data_path=str(data_path),
                               dataset_version_id=version.pk, base_version=base,
                               base_model=base_model, candidate_for=candidate_for,
                               candidate_share=candidate_share)
