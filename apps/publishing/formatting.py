"""Content shaped for each target: sanitized HTML, plain text, hashtags, threads.

Pure functions of text, so the review screen's preview and the connectors
produce exactly the same thing.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import markdown
import nh3
from django.utils.text import slugify

from workers.evaluation.language import has_ideographs, language, tokens

# What a CMS post may contain: Markdown's own output (with tables, footnotes,
# fenced code from `extra`), nothing that runs script or pulls in frames.
ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "img", "li", "ol", "p", "pre", "strong", "sup", "sub",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title"}, "abbr": {"title"},
    "td": {"align"}, "th": {"align"}, "li": {"id"}, "sup": {"id"}, "div": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Mastodon counts every URL as 23 characters, whatever its length
# (`configuration.statuses.characters_reserved_per_url`).
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")


def slug(title: str, *, language_tag: str, max_length: int, percent_encoded: bool = False) -> str:
    """A URL slug of the title's words, in its language; empty when it has none.

    Latin-script titles keep Django's ASCII slug. A title with Chinese or Japanese gets its
    words from the text layer (jieba's words in Chinese), hyphen-joined and kept in their
    script ("人工智能-改变-教育"), where an ASCII slug would drop every character. Whole
    words are cut at `max_length`, counted in characters, or in bytes of the %-encoded form
    when `percent_encoded` (how WordPress stores a non-ASCII slug, lower-case hex).
    """
    if not has_ideographs(title):
        return slugify(title)[:max_length].strip("-")
    words = [slugify(word, allow_unicode=True) for word in tokens(title, language(language_tag))]
    shown = ""
    for word in filter(None, words):
        longer = f"{shown}-{word}" if shown else word
        encoded = quote(longer, safe="-").lower() if percent_encoded else longer
        if len(encoded) > max_length:
            break
        shown = longer
    return quote(shown, safe="-").lower() if percent_encoded else shown


def markdown_html(text: str) -> str:
    """Markdown → HTML with only safe tags, attributes and URL schemes; links get
    rel="noopener noreferrer" so a post never leaks our readers' origin."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return sanitized_html(html)


def sanitized_html(html: str) -> str:
    """`html` cut down to what a post may contain (ALLOWED_TAGS, ALLOWED_ATTRIBUTES,
    URL_SCHEMES), links with rel="noopener noreferrer"."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer").strip()


def plain_text(text: str) -> str:
    """Markdown → readable plain text for social posts and excerpts, from the same
    sanitized HTML a CMS gets (so no script survives): paragraphs separated by a
    blank line, list items as '• ', links as 'label url', no heading hashes (a '#'
    would turn a heading into a hashtag)."""
    reader = _TextReader()
    reader.feed(markdown_html(text))
    reader.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(reader.out)).strip()


class _TextReader(HTMLParser):
    BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol",
              "dl", "hr", "div"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._href: list[str] = []
        self._label_start = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.out.append("\n• ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self._href.append(dict(attrs).get("href") or "")
            self._label_start = len(self.out)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self._href:
            href, label = self._href.pop(), "".join(self.out[self._label_start:]).strip()
            if href and href != label:
                self.out.append(f" {href}" if label else href)

    def handle_data(self, data: str) -> None:
        if data.strip() or "\n" not in data:  # not the line breaks between HTML blocks
            self.out.append(data)


def hashtags(keywords: tuple[str, ...] | list[str]) -> list[str]:
    """'#CamelCase' tags from keywords: letters, digits and '_' only, duplicates dropped."""
    tags: list[str] = []
    for keyword in keywords:
        words = re.findall(r"\w+", keyword)
        tag = "".join(w[:1].upper() + w[1:] for w in words)
        if tag and not tag.isdigit() and f"#{tag}".lower() not in {t.lower() for t in tags}:
            tags.append(f"#{tag}")
    return tags


def social_length(text: str, *, url_length: int = 23) -> int:
    """Length as Mastodon counts it: each URL as `url_length` characters."""
    return len(URL_RE.sub("x" * url_length, text))


def truncate(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ellipsis), 0)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + ellipsis


def thread_split(text: str, *, limit: int, url_length: int = 23) -> list[str]:
    """`text` in parts of at most `limit` characters (as `social_length` counts),
    numbered ' (i/n)' when there is more than one, split between words (only a
    word longer than a whole part is cut)."""
    if social_length(text, url_length=url_length) <= limit:
        return [text]
    count = 2
    while True:  # the suffix width depends on the number of parts: settle it
        suffix_len = len(f" ({count}/{count})")
        parts = _pack(_pieces(text), limit - suffix_len, url_length)
        if len(str(len(parts))) <= len(str(count)):
            break
        count = len(parts)
    return [f"{part} ({i}/{len(parts)})" for i, part in enumerate(parts, 1)]


def _pieces(text: str) -> list[str]:
    """Words, each carrying the whitespace before it, so joining them restores the text."""
    return re.findall(r"\s*\S+", text)


def _pack(pieces: list[str], room: int, url_length: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece
        if social_length(candidate.strip(), url_length=url_length) <= room:
            current = candidate
            continue
        if current.strip():
            parts.append(current.strip())
        word = piece.strip()
        while social_length(word, url_length=url_length) > room:  # one overlong word
            parts.append(word[:room])
            word = word[room:]
        current = word
    if current.strip():
        parts.append(current.strip())
    return parts
