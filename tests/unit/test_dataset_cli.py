"""The loop from a script: manage.py dataset import|build|show, train, model list|promote|rollback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import Role
from apps.generation.models import ModelProfile
from apps.workflow.services import review_approve
from tests import factories
from tests.unit.conftest import DATASET_FIXTURES

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_script_imports_builds_trains_promotes_and_rolls_back(models_dir, datasets_dir):
    ws = factories.workspace(slug="garden")
    files = sorted(str(p) for p in Path(DATASET_FIXTURES).iterdir() if p.name != "README.md")
    imported = run("dataset", "import", "garden", "Archive", *files)
    assert imported.splitlines()[0] == "compost-copy.txt: 1 documents (done)"
    assert len(imported.splitlines()) == 7
    built = json.loads(run("dataset", "build", "garden", "Archive", "--options", json.dumps(
        {"min_chars": 150, "languages": ["en"], "seed": 7, "validation_share": 0.2,
         "test_share": 0.2})).splitlines()[-1])
    assert (built["version"], built["documents_in"], built["documents"]) == (1, 11, 7)
    assert run("dataset", "show", "garden", "Archive").startswith("# Archive, version 1")
    trained = json.loads(run("train", "--workspace", "garden", "--dataset", "Archive", "--here",
                             "--parameters", json.dumps({"steps": 10, "max_seconds": None,
                                                         "threads": 1})).splitlines()[-1])
    assert trained["version"] == 1
    assert trained["heldout_perplexity_after"] < trained["heldout_perplexity_before"]
    # the evaluation suite ran here too: the English test briefs, scored and gated
    assert (trained["suite"]["briefs"], trained["suite"]["languages"]) == (3, ["en"])
    assert 0 <= trained["suite"]["gate_pass_rate"] <= 1
    assert run("model", "evaluate", "garden", "1").startswith("Suite run ")
    [listed] = [json.loads(line) for line in run("model", "list", "garden").splitlines()]
    assert (listed["version"], listed["folder"]) == (1, trained["folder"])
    factories.model_profile(ws, name="Writer", model="builtin")
    assert run("model", "promote", "garden", "1", "--profile", "Writer") == (
        f"Writer: builtin {trained['folder']}\n")
    assert run("model", "rollback", "garden", "--profile", "Writer") == "Writer: builtin builtin\n"
    assert ModelProfile.objects.get(workspace=ws, name="Writer").model == "builtin"


def test_the_commands_say_what_is_wrong(datasets_dir):
    factories.workspace(slug="garden")
    for args, message in (
            (("dataset", "import", "nowhere", "A", "x.txt"), "No workspace has the slug 'nowhere'."),
            (("dataset", "import", "garden", "A"), "Name files to import, or --published"),
            (("dataset", "build", "garden", "A"), "No dataset 'A' in garden."),
            (("dataset", "import", "garden", "A", "--feeds"),
             "Nothing to import from feed entries: no documents found."),
            (("model", "promote", "garden", "3", "--profile", "Nope"),
             "No model profile 'Nope' in garden.")):
        with pytest.raises(CommandError) as refused:
            run(*args)
        assert str(refused.value).startswith(message), (args, str(refused.value))


def test_a_script_imports_approved_revisions_and_exports_their_preference_pairs(datasets_dir):
    ws = factories.workspace(slug="garden")
    reviewer = factories.member(ws, Role.REVIEWER)
    brief = factories.brief_in_review(ws)
    loser, winner = brief.drafts.order_by("variant")
    review_approve(brief=brief, draft_id=winner.pk, reviewer=reviewer)
    assert run("dataset", "import", "garden", "Feedback", "--approved") == (
        "approved revisions: 1 documents (done)\n")
    run("dataset", "build", "garden", "Feedback", "--options", '{"min_chars": 10}')
    [pair] = [json.loads(line) for line in
              run("dataset", "show", "garden", "Feedback", "--preferences").splitlines()]
    assert (pair["chosen"], pair["rejected"]) == (winner.text, loser.text)
