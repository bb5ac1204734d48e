"""A Chinese brief through the real workers: generation by a real worker process from a local
OpenAI-compatible server writing Chinese, evaluation by the real evaluation worker."""

from __future__ import annotations

import httpx
import pytest

from apps.accounts.models import Role
from apps.generation.models import Backend
from apps.generation.services import model_profile_set_api_key
from tests import factories
from tests.clients import wait_until
from tests.peers.openai_chat import ChatPeer
from workers.evaluation import lexical

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
# The server's words: a Chinese model's answer about composting, one word a token.
CHINESE_WORDS = ("堆肥", "厨余垃圾", "土壤", "落叶", "蚯蚓", "花园", "翻动", "湿润", "。")
REFERENCE = "堆肥可以减少厨余垃圾，还能改善土壤。把落叶和厨余垃圾混在一起，保持湿润，每周翻动一次。"


def test_a_chinese_brief_is_scored_in_characters_with_its_keywords_found(live_platform) -> None:
    with ChatPeer(vocabulary=CHINESE_WORDS) as peer:
        # Given a workspace whose content type writes through a Chinese-speaking model server
        ws = factories.workspace(name="花园周刊")
        factories.member(ws, Role.EDITOR, username="li", password=PASSWORD)
        profile = factories.model_profile(ws, name="House model", backend=Backend.OPENAI,
                                          model="house", base_url=peer.url,
                                          parameters={"max_new_tokens": 60})
        model_profile_set_api_key(profile=profile, api_key=peer.api_key)
        factories.content_type(ws, slug="blog-post", model_profile=profile)
        api = httpx.Client(base_url=live_platform.url, auth=("li", PASSWORD), timeout=30)
        # When an editor submits a Chinese brief with keywords and a reference text
        created = api.post("/api/v1/briefs/", json={
            "title": "在家堆肥入门", "content_type": "blog-post", "topic": "用厨余垃圾和落叶做堆肥",
            "keywords": ["堆肥", "厨余垃圾"], "target_length": 100, "variants": 2,
            "language": "zh-CN", "reference_texts": [REFERENCE],
        })
        assert created.status_code == 201, created.text
        brief_id = created.json()["id"]
        # Then the workers generate and score it, and it reaches review
        brief = wait_until(lambda: api.get(f"/api/v1/briefs/{brief_id}/").json(),
                           lambda b: b["state"] == "in_review", 240, "brief in review")
    assert brief["length_unit"] == "characters"
    assert len(brief["drafts"]) == 2
    for draft in brief["drafts"]:
        text = draft["latest_revision"]["text"]
        metrics = draft["evaluation"]["metrics"]
        # its length is counted in characters: every Han character once, no spaces or 。
        assert metrics["length_unit"] == "characters"
        assert metrics["length"] == sum(len(w) for w in text.split() if w != "。")
        assert metrics["target_length"] == 100
        # its keywords are matched inside the Chinese text
        found = [k for k in ("堆肥", "厨余垃圾") if k in text]
        assert metrics["keyword_coverage"] == len(found) / 2 and found
        # and it overlaps the Chinese reference
        assert metrics["rouge1"] > 0 and metrics["bleu"] > 0
        assert metrics["relevance_method"] == lexical.NAME
