"""Tone, target format and the default style guide reach every prompt, in the brief's language."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from apps.briefs.models import ContentType, StyleGuide, TargetFormat
from apps.briefs.presets import PRESETS
from apps.briefs.prompting import FORMATS, prompt_render, style_guide_default
from apps.briefs.services import brief_fields_for_prompt
from tests import factories
from workers.evaluation.language import has_ideographs

pytestmark = pytest.mark.django_db

BARE = "Now: {title}\n"


def test_every_presets_brief_has_its_tone_and_format_in_the_prompt(ws) -> None:
    for preset in PRESETS:
        # Given a content type made from the preset and a brief with a tone
        ct = factories.content_type(ws, slug=preset.slug, **preset.content_type_fields())
        tone = "温暖而幽默" if preset.language.startswith("zh") else "warm and wry"
        brief = factories.brief(ws, ct, title="T", tone=tone)
        # When its prompt is rendered
        fields = {**brief_fields_for_prompt(brief), "target_format": ct.target_format}
        prompt = prompt_render(ct.prompt_template, fields)
        # Then the tone and the preset's format are in it, in the preset's language
        assert tone in prompt, preset.slug
        code = "zh" if preset.language.startswith("zh") else "en"
        assert FORMATS[code][preset.target_format] + "\n\n" in prompt, preset.slug


def test_a_template_without_tone_or_format_gets_them_as_blocks() -> None:
    fields = {"title": "Leaf mould", "tone": "calm", "target_format": "text"}
    assert prompt_render(BARE, fields) == (
        "Tone: calm.\n\nFormat: plain text, no Markdown: no # headings, no list markers.\n\n"
        "Now: Leaf mould\n")
    # a template that places them keeps them where it put them, the format as its instruction
    assert prompt_render("{title} ({tone})\n{target_format}\n", fields) == (
        "Leaf mould (calm)\nFormat: plain text, no Markdown: no # headings, no list markers.\n")
    # nothing to add: the template alone, as before
    assert prompt_render(BARE, {"title": "Leaf mould"}) == "Now: Leaf mould\n"


def test_a_chinese_prompt_is_labelled_in_chinese_and_others_in_english() -> None:
    fields = {"title": "落叶堆肥", "tone": "亲切", "target_format": "markdown", "language": "zh-CN",
              "banned_terms": "最佳", "feedback": "多写一些步骤"}
    assert prompt_render(BARE, fields) == (
        "请用中文写作。\n\n语气：亲切。\n\n格式：Markdown，先写“# 标题”，再分短段落，需要时用“## 小标题”"
        "和列表。\n\n不得使用这些词语：最佳。\n\nNow: 落叶堆肥\n\n请根据以下意见修改：多写一些步骤\n")
    japanese = prompt_render(BARE, {**fields, "language": "ja", "feedback": ""})
    assert japanese.startswith("Write in Japanese.\n\nTone: 亲切.\n\nFormat: Markdown, a # headline")


def test_a_brief_without_a_guide_gets_its_content_types_then_its_workspaces(ws) -> None:
    other = factories.workspace()
    StyleGuide.objects.create(workspace=other, name="Elsewhere", workspace_default=True)
    ct = factories.content_type(ws)
    # no guide anywhere: none (another workspace's default is not this one's)
    assert style_guide_default(ct) is None
    house = StyleGuide.objects.create(workspace=ws, name="House", tone="plain",
                                      workspace_default=True)
    assert style_guide_default(ct) == house
    news = StyleGuide.objects.create(workspace=ws, name="News", tone="factual")
    ct.style_guide = news
    ct.save(update_fields=["style_guide"])
    assert style_guide_default(ct) == news
    # a workspace has one default guide at most
    with pytest.raises(IntegrityError):
        StyleGuide.objects.create(workspace=ws, name="Second", workspace_default=True)


def test_every_preset_names_a_target_format_and_a_style_guide_in_its_language() -> None:
    fields = {f.name for f in ContentType._meta.get_fields()}
    for preset in PRESETS:
        assert set(preset.content_type_fields()) <= fields, preset.slug
        assert preset.target_format in TargetFormat.values, preset.slug
        guide = preset.style_guide
        assert guide.tone and has_ideographs(guide.name + guide.tone) == (
            preset.language.startswith("zh")), preset.slug
    formats = {p.slug: p.target_format for p in PRESETS}
    assert formats["news-article-zh"] == formats["lesson"] == TargetFormat.MARKDOWN
    assert formats["ad-copy"] == formats["support-reply-zh"] == TargetFormat.TEXT
