"""Ready-made content types for the six domains editors write in, in English and Simplified
Chinese: `python manage.py load_presets` (and the demo workspace) loads them.

Each preset is a prompt template, a default length in the language's unit (words in
English, characters in Chinese: a Chinese text says in about 1.6-2 characters what English
says in a word, so lengths double), default variants, the gate it is judged by (the
default rules plus the domain's own, and ranking weights), its target format (Markdown for
what goes to a CMS or site, plain text for ads, posts and replies) and a default style
guide: the domain's tone, which a workspace then makes its brand voice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.briefs.models import TargetFormat


@dataclass(frozen=True)
class PresetStyleGuide:
    """The style guide a preset's content type links to: the domain's tone and bans."""

    name: str
    tone: str
    banned_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    """One ready-made content type, its style guide and its quality gate (the default
    rules plus `extra_rules`, ranked by `weights`)."""

    slug: str
    name: str
    language: str
    prompt_template: str
    default_length: int  # words, or characters in Chinese
    target_format: str
    style_guide: PresetStyleGuide
    default_variants: int = 3
    extra_rules: tuple[dict[str, Any], ...] = ()  # on top of the default gate's
    weights: dict[str, float] = field(default_factory=dict)

    def content_type_fields(self) -> dict[str, Any]:
        """The content type's fields as the preset sets them (its style guide is a row of its
        own, which the loader links)."""
        return {"name": self.name, "prompt_template": self.prompt_template,
                "default_length": self.default_length, "default_variants": self.default_variants,
                "language": self.language, "target_format": self.target_format}


MARKDOWN, TEXT = TargetFormat.MARKDOWN.value, TargetFormat.TEXT.value


@dataclass(frozen=True)
class _Written:
    """What a domain's English and Chinese presets each say in their own language."""

    name: str
    default_length: int
    style_guide: PresetStyleGuide
    prompt_template: str
    extra_rules: tuple[dict[str, Any], ...] = ()  # on top of the domain's


def _domain(slug: str, *, target_format: str, weights: dict[str, float], en: _Written,
            zh: _Written, extra_rules: tuple[dict[str, Any], ...] = (),
            default_variants: int = 3) -> tuple[Preset, Preset]:
    """The domain's English preset (`slug`) and its Chinese one (`slug`-zh): the same
    format, variants, gate rules and weights."""
    english, chinese = (
        Preset(slug=f"{slug}{suffix}", name=written.name, language=language,
               prompt_template=written.prompt_template, default_length=written.default_length,
               target_format=target_format, style_guide=written.style_guide,
               default_variants=default_variants,
               extra_rules=(*extra_rules, *written.extra_rules), weights=weights)
        for suffix, language, written in (("", "en", en), ("-zh", "zh-CN", zh)))
    return english, chinese


PRESETS: tuple[Preset, ...] = (
    *_domain(
        "news-article", target_format=MARKDOWN,
        weights={"relevance": 0.5, "length_fit": 0.2, "keyword_coverage": 0.3},
        en=_Written("News article", 400, PresetStyleGuide(
            "News house style", "neutral and factual; every claim attributed"), (
            "{title}\n\nA news article of about {target_length} words for {audience} on "
            "{topic}. Lead with the most important facts (who, what, when, where, why), then "
            "background and quotes from the sources. Tone: {tone}. Keywords: {keywords}.\n"
            "Sources:\n{source_material}\n\n")),
        zh=_Written("新闻报道", 800, PresetStyleGuide("新闻稿风格", "客观、准确、简洁，事实注明出处"), (
            "{title}\n\n请为{audience}写一篇约{target_length}字的新闻报道，主题：{topic}。导语先交代"
            "最重要的事实（何人、何事、何时、何地、为何），再写背景和来源中的引语。语气：{tone}。"
            "关键词：{keywords}。\n资料：\n{source_material}\n\n"))),
    *_domain(
        "ad-copy", target_format=TEXT, default_variants=5,
        weights={"relevance": 0.5, "keyword_coverage": 0.5},
        en=_Written("Ad copy", 30, PresetStyleGuide(
            "Ad copy voice", "punchy and concrete; one promise, no hype"), (
            "One short ad for {title}: {topic}. At most {target_length} words, for {audience}. "
            "Tone: {tone}. Mention: {keywords}. A headline, one sentence of copy and a call to "
            "action.\n\n"),
            # 150 characters: what a search ad's headline and description hold together
            extra_rules=({"metric": "char_count", "max": 150, "severity": "fail"},)),
        zh=_Written("广告文案", 40, PresetStyleGuide(
            "广告文案风格", "简洁有力、具体可信",
            # absolute claims the PRC Advertising Law (art. 9) forbids in any advert
            banned_terms=("国家级", "最高级", "最佳")), (
            "为{title}写一条简短的广告文案：{topic}。不超过{target_length}字，面向{audience}。"
            "语气：{tone}。需提到：{keywords}。一行标题、一句正文、一句行动号召。\n\n"),
            extra_rules=({"metric": "char_count", "max": 60, "severity": "fail"},))),
    *_domain(
        "marketing-post", target_format=TEXT,
        weights={"relevance": 0.5, "length_fit": 0.2, "keyword_coverage": 0.3},
        en=_Written("Marketing email or social post", 150, PresetStyleGuide(
            "Marketing voice", "warm and direct; speaks to the reader as you"), (
            "{title}\n\nA marketing email or social post of about {target_length} words for "
            "{audience} about {topic}. Open with the reader's benefit, keep one message, end "
            "with one clear next step. Tone: {tone}. Keywords: {keywords}.\n\n")),
        zh=_Written("营销邮件或社交帖子", 300, PresetStyleGuide(
            "营销文案风格", "亲切、直接，以“您”称呼读者"), (
            "{title}\n\n请为{audience}写一封约{target_length}字的营销邮件或社交媒体帖子，主题：{topic}。"
            "开头点明读者的收益，只讲一个重点，结尾给出一个明确的下一步。语气：{tone}。"
            "关键词：{keywords}。\n\n"))),
    *_domain(
        "support-reply", target_format=TEXT,
        weights={"relevance": 0.4, "grounding": 0.6},
        # a support reply states only what the sources say
        extra_rules=({"metric": "grounding", "min": 0.8, "severity": "fail"},),
        en=_Written("Customer-support reply script", 120, PresetStyleGuide(
            "Support voice", "friendly, patient and clear; no blame"), (
            "{title}\n\nA customer-support reply of about {target_length} words to {audience} "
            "about {topic}. Use only what the knowledge base below says; if it does not cover "
            "the question, say so and offer to escalate. Tone: {tone}.\nKnowledge base:\n"
            "{source_material}\n\n")),
        zh=_Written("客服回复话术", 250, PresetStyleGuide("客服话术风格", "礼貌、耐心、清楚，不推卸责任"), (
            "{title}\n\n请给{audience}写一段约{target_length}字的客服回复，问题：{topic}。只使用下面"
            "知识库中的信息；知识库没有涉及的，要如实说明并提出转交人工处理。语气：{tone}。\n"
            "知识库：\n{source_material}\n\n"))),
    *_domain(
        "lesson", target_format=MARKDOWN,
        weights={"relevance": 0.5, "keyword_coverage": 0.3, "length_fit": 0.2},
        # a lesson covers its key terms
        extra_rules=({"metric": "keyword_coverage", "min": 0.8, "severity": "warn"},),
        en=_Written("Education material (lesson summary and quiz)", 300, PresetStyleGuide(
            "Teaching voice", "encouraging and plain; one idea at a time"), (
            "{title}\n\nA lesson summary of about {target_length} words for {audience} on "
            "{topic}, covering: {keywords}. Then three quiz questions with their answers. "
            "Tone: {tone}.\n\n")),
        zh=_Written("教学材料（课程小结与测验）", 600, PresetStyleGuide(
            "教学风格", "循循善诱、通俗易懂，一次讲清一个概念"), (
            "{title}\n\n请为{audience}写一份约{target_length}字的课程小结，主题：{topic}，需涵盖："
            "{keywords}。然后出三道测验题并附答案。语气：{tone}。\n\n"))),
    *_domain(
        "literature", target_format=MARKDOWN, weights={"relevance": 0.6, "length_fit": 0.4},
        en=_Written("Literature (short story or poem)", 300, PresetStyleGuide(
            "Literary voice", "vivid and concrete; show, don't tell"), (
            "{title}\n\nA short story or poem of about {target_length} words for {audience}: "
            "{topic}. Tone: {tone}. Let these appear: {keywords}.\n\n")),
        zh=_Written("文学（短篇故事或诗歌）", 400, PresetStyleGuide("文学风格", "生动具体，意在言外"), (
            "{title}\n\n请为{audience}写一篇约{target_length}字的短篇故事或一首诗：{topic}。"
            "语气：{tone}。请写到：{keywords}。\n\n"))),
)
