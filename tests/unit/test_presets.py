"""Content-type presets for the six domains, in English and Chinese, with their gates."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import Role
from apps.briefs.models import ContentBrief, ContentType, StyleGuide
from apps.briefs.presets import PRESETS
from apps.briefs.prompting import prompt_render
from apps.evaluation import gating
from apps.evaluation.models import QualityGate
from apps.evaluation.services import content_type_presets_load
from apps.workflow.services import brief_create
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db

DOMAINS = ["news-article", "ad-copy", "marketing-post", "support-reply", "lesson", "literature"]


def test_presets_load_twelve_content_types_with_their_gates_once(ws) -> None:
    # When the presets are loaded twice
    loaded = content_type_presets_load(workspace=ws)
    again = content_type_presets_load(workspace=ws)
    # Then each domain has an English and a Chinese content type, created once
    assert [c.slug for c in loaded] == [s for d in DOMAINS for s in (d, f"{d}-zh")]
    assert [c.pk for c in again] == [c.pk for c in loaded]
    assert ContentType.objects.filter(workspace=ws).count() == 12
    by_slug = {c.slug: c for c in loaded}
    # And lengths are in the language's unit: characters in Chinese, about twice the words
    assert {(c.language, c.default_length) for c in (by_slug["news-article"],
                                                      by_slug["news-article-zh"])} == {
        ("en", 400), ("zh-CN", 800)}
    assert by_slug["ad-copy-zh"].default_variants == 5
    # And each has its target format and its own style guide, loaded once too
    assert {(slug, c.target_format) for slug, c in by_slug.items()
            if slug.startswith(("news-article", "ad-copy"))} == {
        ("news-article", "markdown"), ("news-article-zh", "markdown"),
        ("ad-copy", "text"), ("ad-copy-zh", "text")}
    assert StyleGuide.objects.filter(workspace=ws).count() == 12
    ad_zh = by_slug["ad-copy-zh"].style_guide
    assert ad_zh is not None and "国家级" in ad_zh.banned_terms
    # And a brief of that type that names no guide gets it: its tone and bans reach the model
    brief = brief_create(workspace=ws, content_type=by_slug["ad-copy-zh"], title="新品",
                         topic="有机肥料", submit=False)
    assert (brief.style_guide, brief.tone) == (ad_zh, ad_zh.tone)
    # And every content type has its gate: the default rules plus the domain's own
    gates = {g.content_type.slug: g for g in QualityGate.objects.filter(workspace=ws)
             .select_related("content_type")}
    assert len(gates) == 12
    assert gates["literature"].rules == gating.default_rules()
    assert gates["support-reply-zh"].rules[-1] == {"metric": "grounding", "min": 0.8,
                                                   "severity": "fail"}
    assert gates["ad-copy-zh"].rules[-1] == {"metric": "char_count", "max": 60,
                                             "severity": "fail"}
    assert gates["support-reply"].weights == {"relevance": 0.4, "grounding": 0.6}


def test_a_chinese_preset_gives_its_briefs_chinese_and_characters(ws) -> None:
    content_type_presets_load(workspace=ws)
    lesson = ContentType.objects.get(workspace=ws, slug="lesson-zh")
    brief = brief_create(workspace=ws, content_type=lesson, title="光合作用", topic="植物如何制造养分",
                         keywords=["叶绿素", "阳光"], submit=False)
    assert (brief.language, brief.target_length) == ("zh-CN", 600)
    # and a brief naming its own language keeps it
    other = brief_create(workspace=ws, content_type=lesson, title="Photosynthesis", topic="x",
                         language="en", submit=False)
    assert other.language == "en"


def test_every_preset_template_renders_with_a_briefs_fields() -> None:
    fields = {"title": "T", "topic": "topic", "audience": "readers", "tone": "warm",
              "keywords": "a, b", "target_length": 100, "language": "English",
              "source_material": "facts"}
    for preset in PRESETS:
        rendered = prompt_render(preset.prompt_template, fields)
        assert "100" in rendered and "topic" in rendered, preset.slug


def test_the_command_loads_presets_into_a_workspace_by_slug() -> None:
    ws = factories.workspace(slug="garden")
    out = StringIO()
    call_command("load_presets", workspace="garden", stdout=out)
    assert out.getvalue().startswith("12 content types in garden: news-article, news-article-zh,")
    with pytest.raises(CommandError, match="No workspace with slug 'nowhere'"):
        call_command("load_presets", workspace="nowhere", stdout=StringIO())
    assert ContentType.objects.filter(workspace=ws).count() == 12


def test_the_new_brief_form_takes_the_presets_language_when_left_empty(ws) -> None:
    content_type_presets_load(workspace=ws)
    news = ContentType.objects.get(workspace=ws, slug="news-article-zh")
    editor = factories.member(ws, Role.EDITOR)
    response = logged_in(editor).post("/briefs/new/", {
        "title": "本市新图书馆开放", "content_type": news.pk, "topic": "市中心新图书馆今天开放",
        "language": "", "priority": "0"})
    assert response.status_code == 302
    brief = ContentBrief.objects.get(title="本市新图书馆开放")
    assert (brief.language, brief.target_length) == ("zh-CN", 800)
