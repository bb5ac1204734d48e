"""Per-target formatting: sanitized HTML, plain text, hashtags, threads, previews."""

from __future__ import annotations

import pytest

from apps.publishing.formatting import (
    hashtags,
    markdown_html,
    plain_text,
    social_length,
    thread_split,
    truncate,
)
from apps.publishing.models import TargetKind
from apps.publishing.selectors import publication_preview
from apps.publishing.targets import target_create
from tests import factories


def test_markdown_becomes_html_without_script_handlers_or_javascript_links():
    html = markdown_html('# Title\n\n[ok](https://a.example) [bad](javascript:alert(1))\n\n'
                         '<img src=x onerror="steal()"><script>steal()</script>')

    assert html == ('<h1>Title</h1>\n<p><a href="https://a.example" rel="noopener noreferrer">'
                    'ok</a> <a rel="noopener noreferrer">bad</a></p>\n<p><img src="x"></p>')


def test_plain_text_keeps_paragraphs_items_and_link_targets():
    text = plain_text("## Steps\n\n1. Pick a **bin**\n2. See [guide](https://g.example)\n\n"
                      "Fish & chips <b>no</b>")

    assert text == "Steps\n\n• Pick a bin\n• See guide https://g.example\n\nFish & chips no"


def test_hashtags_are_camel_cased_deduplicated_and_never_bare_numbers():
    assert hashtags(["home compost", "Home Compost", "garden-tools", "2025", "ça va"]) == [
        "#HomeCompost", "#GardenTools", "#ÇaVa"]


def test_truncate_cuts_at_a_word_with_an_ellipsis():
    assert truncate("one two three four", 12) == "one two…"
    assert truncate("short", 12) == "short"


def test_threads_count_urls_as_23_and_number_every_part():
    url = "https://example.org/" + "a" * 100
    text = " ".join(["word"] * 60) + " " + url

    parts = thread_split(text, limit=100)

    assert social_length(url) == 23
    assert [p[-6:] for p in parts] == [f" ({i}/{len(parts)})" for i in range(1, len(parts) + 1)]
    assert all(social_length(p) <= 100 for p in parts)
    assert " ".join(p[:-6] for p in parts) == text
    assert thread_split("fits", limit=100) == ["fits"]


@pytest.mark.django_db
def test_preview_shows_each_target_its_own_shape():
    ws = factories.workspace()
    blog = target_create(workspace=ws, name="Blog", kind=TargetKind.WORDPRESS,
                         config={"url": "https://blog.example"}, secret="ed:pw")
    social = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                           config={"url": "https://social.example", "max_characters": 60},
                           secret="token")
    text = ("Compost **now**. " + "Turn it weekly. " * 4).strip()

    html = publication_preview(target=blog, title="Compost", text=text, keywords=["soil"])
    thread = publication_preview(target=social, title="Compost", text=text, keywords=["soil"])

    assert (html.format, html.parts) == ("html", (
        "<p>Compost <strong>now</strong>. Turn it weekly. Turn it weekly. Turn it weekly. "
        "Turn it weekly.</p>",))
    assert thread.format == "text"
    assert thread.parts == (
        "Compost\n\nCompost now. Turn it weekly. Turn it weekly. (1/2)",
        "Turn it weekly. Turn it weekly.\n\n#Soil (2/2)",
    )
    assert thread.warnings == ("Split into a thread of 2 posts.",)
