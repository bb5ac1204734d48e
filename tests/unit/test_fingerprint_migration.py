"""Fingerprints' MinHash signatures move from JSON lists to bytes, and back when undone."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.evaluation.models import TextFingerprint
from tests import factories

BEFORE = [("evaluation", "0005_gates_warn_unreadable")]
SIGNATURE = [1, 2**61 - 2, 0]  # MinHash values are under 2**61


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh graph: what is applied now


@pytest.mark.django_db(transaction=True)
def test_signatures_become_bytes_and_lists_again_when_the_migration_is_undone() -> None:
    # Given a fingerprint stored before the change, its signature a JSON list
    revision = factories.brief_in_review(factories.workspace(), scores=(0.5,)).drafts.get(
    ).revisions.get()
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("evaluation")
    if connection.vendor == "postgresql":  # a lock some other session holds fails, not hangs
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '30s'")
    try:
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps.get_model("evaluation", "TextFingerprint")
        old.objects.create(workspace_id=revision.draft.brief.workspace_id, revision_id=revision.pk,
                           embedding=b"\0\0\0\0", embedding_model="m", signature=SIGNATURE)
        # When the migrations run
        _migrate(latest)
        # Then the signature is its values as little-endian uint64 bytes
        stored = TextFingerprint.objects.get(revision=revision)
        assert np.frombuffer(bytes(stored.signature), dtype="<u8").tolist() == SIGNATURE
        # And undoing them gives the list back
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps.get_model("evaluation", "TextFingerprint")
        assert old.objects.get(revision_id=revision.pk).signature == SIGNATURE
    finally:
        _migrate(latest)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
