"""The published pieces an evaluation worker keeps between jobs: read once, then only what
went out since, and nothing that no longer counts as published."""

from __future__ import annotations

import pytest
from pytest_django import DjangoAssertNumQueries

from apps.evaluation import selectors
from apps.evaluation.running import PublishedCache
from apps.evaluation.services import fingerprints_store
from apps.reviews.models import DraftRevision
from tests import factories
from workers.evaluation.types import PublishedIndex, PublishedPiece


def piece(piece_id: int) -> PublishedPiece:
    return PublishedPiece(piece_id=piece_id, embedding=(float(piece_id), 1.0),
                          signature=(piece_id, piece_id + 1))


def test_a_refreshed_index_keeps_its_rows_and_reads_only_the_new_ones() -> None:
    index = PublishedIndex.of([piece(3), piece(5), piece(9)])
    reads: list[list[int]] = []

    def read(ids: list[int]) -> PublishedIndex:
        reads.append(ids)
        return PublishedIndex.of([piece(i) for i in ids])

    # The same ids: the same index, nothing read
    assert index.refreshed([3, 5, 9], read) is index
    # 5 gone, 4 and 12 new: only those two read, the rows in id order
    fresh = index.refreshed([3, 4, 9, 12], read)
    assert reads == [[4, 12]]
    assert fresh.piece_ids == (3, 4, 9, 12)
    assert fresh.vectors[:, 0].tolist() == [3.0, 4.0, 9.0, 12.0]
    assert fresh.signatures.tolist() == [[3, 4], [4, 5], [9, 10], [12, 13]]
    # Every piece gone, or none known before
    assert len(fresh.refreshed([], read)) == 0
    assert PublishedIndex().refreshed([7], read).piece_ids == (7,)


@pytest.mark.django_db
def test_the_worker_reads_a_workspaces_fingerprints_once_then_only_what_went_out_since(
        django_assert_num_queries: DjangoAssertNumQueries) -> None:
    # Given a workspace with three revisions fingerprinted, two of them sent out
    ws = factories.workspace()
    first, second, third = (factories.brief_in_review(ws, scores=(0.5,)).drafts.get()
                            .revisions.get() for _ in range(3))
    fingerprints_store(workspace_id=ws.pk, embedding_model="m",
                       pieces=[piece(r.pk) for r in (first, second, third)])
    DraftRevision.objects.filter(pk__in=[first.pk, second.pk]).update(went_out=True)
    cache = PublishedCache(limit_bytes=2**20)
    # When a job reads them: all of them in one query
    with django_assert_num_queries(1):
        index = cache.index(workspace_id=ws.pk, embedding_model="m")
    assert index.piece_ids == (first.pk, second.pk)
    # Then the next job reads only the ids, and gets the same index
    with django_assert_num_queries(1):
        assert cache.index(workspace_id=ws.pk, embedding_model="m") is index
    # When the first is withdrawn and the third goes out
    DraftRevision.objects.filter(pk=first.pk).update(went_out=False)
    DraftRevision.objects.filter(pk=third.pk).update(went_out=True)
    # Then the next job reads the ids and the third's fingerprint alone
    with django_assert_num_queries(2):
        index = cache.index(workspace_id=ws.pk, embedding_model="m")
    assert index.piece_ids == (second.pk, third.pk)
    assert index.vectors[:, 0].tolist() == [float(second.pk), float(third.pk)]
    # And another vector space, or another workspace, is never served from this one
    assert len(cache.index(workspace_id=ws.pk, embedding_model="other")) == 0
    assert len(cache.index(workspace_id=factories.workspace().pk, embedding_model="m")) == 0


@pytest.mark.django_db
def test_the_worker_keeps_no_more_than_its_limit(
        django_assert_num_queries: DjangoAssertNumQueries) -> None:
    # Given two workspaces with one published piece each, and room for one piece's index
    spaces = [factories.workspace() for _ in range(2)]
    for ws in spaces:
        revision = factories.brief_in_review(ws, scores=(0.5,)).drafts.get().revisions.get()
        fingerprints_store(workspace_id=ws.pk, embedding_model="m", pieces=[piece(revision.pk)])
        DraftRevision.objects.filter(pk=revision.pk).update(went_out=True)
    one = PublishedIndex.of([piece(1)]).nbytes
    cache = PublishedCache(limit_bytes=one)
    # When both are read, the first one first
    for ws in spaces:
        cache.index(workspace_id=ws.pk, embedding_model="m")
    # Then the last one read is kept, the first was let go and is read again in full, in one query
    with django_assert_num_queries(1):
        cache.index(workspace_id=spaces[1].pk, embedding_model="m")
    with django_assert_num_queries(1):
        cache.index(workspace_id=spaces[0].pk, embedding_model="m")
    # And a cache without room reads everything every time, still right
    empty = PublishedCache(limit_bytes=0)
    for _ in range(2):
        with django_assert_num_queries(1):
            index = empty.index(workspace_id=spaces[0].pk, embedding_model="m")
        assert len(index) == 1


@pytest.mark.django_db
def test_pieces_asked_for_by_id_are_read_in_bounded_lists(
        monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    # Given three published pieces, and room for two ids in a query
    ws = factories.workspace()
    revisions = [factories.brief_in_review(ws, scores=(0.5,)).drafts.get().revisions.get()
                 for _ in range(3)]
    fingerprints_store(workspace_id=ws.pk, embedding_model="m",
                       pieces=[piece(r.pk) for r in revisions])
    DraftRevision.objects.filter(pk__in=[r.pk for r in revisions]).update(went_out=True)
    monkeypatch.setattr(selectors, "IDS_PER_QUERY", 2)
    # When all three are asked for by id, with one that is not a piece of theirs
    ids = [r.pk for r in revisions]
    with django_assert_num_queries(2):
        index = selectors.published_pieces(workspace_id=ws.pk, embedding_model="m",
                                           piece_ids=[*ids, max(ids) + 100])
    # Then every piece is read once, in id order
    assert index.piece_ids == tuple(sorted(ids))
