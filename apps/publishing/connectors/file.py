"""Publishing to a folder of Markdown files with YAML front matter (a static site).

Hugo, Jekyll, Eleventy and Astro read the same shape: `---`, YAML, `---`, body.
The file is written atomically (a temporary file renamed into place), so a
site build never sees half a post, and a retried attempt of the same
publication finds its earlier file by the idempotency key in the front matter
instead of writing a second one.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.text import slugify

from apps.publishing.connectors.base import (
    PermanentPublishError,
    Preview,
    PublishItem,
    PublishResult,
    TransientPublishError,
)
from apps.publishing.models import PublishingTarget

FENCE = "---"
SLUG_MAX = 80
FRONT_MATTER_MAX_LINES = 200  # a post's own front matter is a dozen lines


def yaml_str(value: str) -> str:
    """`value` as a YAML double-quoted scalar that every YAML reader parses back exactly.

    Escapes what YAML 1.1 readers (PyYAML, Jekyll's Psych) would otherwise fold
    or refuse: quotes, backslashes, control and line-break characters, BOM.
    """
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif (code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF)
              or 0xD800 <= code <= 0xDFFF):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def slug_for(item: PublishItem) -> str:
    # ASCII slugs make URLs every host serves; a title with no ASCII letters
    # (e.g. Chinese) falls back to a stable name from the key.
    return slugify(item.title)[:SLUG_MAX].strip("-") or f"post-{item.idempotency_key[:8]}"


def render(item: PublishItem, *, slug: str) -> str:
    front_matter = [
        f"title: {yaml_str(item.title)}",
        f"date: {item.published_at.isoformat()}",
        f"slug: {yaml_str(slug)}",
        f"tags: [{', '.join(yaml_str(k) for k in item.keywords)}]",
        f"language: {yaml_str(item.language)}",
        f"brief_id: {item.brief_id}",
        f"revision: {item.revision}",
        _key_line(item.idempotency_key),
    ]
    return "\n".join([FENCE, *front_matter, FENCE, "", item.body.strip("\n"), ""])


def _key_line(idempotency_key: str) -> str:
    return f"idempotency_key: {yaml_str(idempotency_key)}"


def _front_matter(path: Path) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as f:
        if f.readline().rstrip("\n") != FENCE:
            return []
        lines = []
        for line in itertools.islice(f, FRONT_MATTER_MAX_LINES):
            if line.rstrip("\n") == FENCE:
                break
            lines.append(line.rstrip("\n"))
        return lines


class FileConnector:
    def __init__(self, *, folder: Path, base_url: str = "") -> None:
        self.folder = folder
        self.base_url = base_url

    @classmethod
    def from_target(cls, target: PublishingTarget) -> FileConnector:
        folder = Path(str(target.config.get("folder", "")))
        if not folder.is_absolute():
            folder = Path(settings.PUBLISH_FILES_DIR) / folder
        return cls(folder=folder, base_url=str(target.config.get("base_url", "")))

    def validate(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise PermanentPublishError(f"{self.folder} is not a folder.")
        if self.folder.is_dir() and not os.access(self.folder, os.W_OK | os.X_OK):
            raise PermanentPublishError(f"The platform may not write to {self.folder}.")

    def publish(self, item: PublishItem) -> PublishResult:
        base = slug_for(item)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self._earlier_file(item, base) or self._write(item, base)
        except PermissionError as exc:
            raise PermanentPublishError(f"Cannot write to {self.folder}: {exc.strerror}.") from exc
        except OSError as exc:  # a full disk or a flaky network share: worth another try
            raise TransientPublishError(f"Writing to {self.folder} failed: {exc}.") from exc
        return PublishResult(external_id=path.relative_to(self.folder).as_posix(),
                             external_url=self._url(path))

    def update(self, external_id: str, item: PublishItem) -> PublishResult:
        """The same file (`external_id`, relative to the folder) rewritten atomically with
        the new revision; its name, and so its URL, stays."""
        path = self.folder / external_id
        if path.resolve().parent != self.folder.resolve() or path.suffix != ".md":
            raise PermanentPublishError(f"'{external_id}' is not a post of {self.folder}.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._replace(path, render(item, slug=path.stem))
        except PermissionError as exc:
            raise PermanentPublishError(f"Cannot write to {self.folder}: {exc.strerror}.") from exc
        except OSError as exc:
            raise TransientPublishError(f"Writing to {self.folder} failed: {exc}.") from exc
        return PublishResult(external_id=external_id, external_url=self._url(path))

    def preview(self, item: PublishItem) -> Preview:
        return Preview(format="markdown", title=item.title,
                       parts=(render(item, slug=slug_for(item)),))

    def _candidates(self, base: str) -> list[Path]:
        # The slug comes from the title, so an earlier attempt wrote `base.md`
        # or, when that name was taken by another post, `base-<n>.md`: looking
        # at those few files keeps a retry O(1) in the size of the site.
        return sorted(self.folder.glob(f"{base}.md")) + sorted(self.folder.glob(f"{base}-*.md"))

    def _earlier_file(self, item: PublishItem, base: str) -> Path | None:
        key_line = _key_line(item.idempotency_key)
        for path in self._candidates(base):
            if key_line in _front_matter(path):
                return path
        return None

    def _write(self, item: PublishItem, base: str) -> Path:
        names = itertools.chain([f"{base}.md"], (f"{base}-{n}.md" for n in itertools.count(2)))
        path = next(self.folder / name for name in names if not (self.folder / name).exists())
        self._replace(path, render(item, slug=path.stem))
        return path

    def _url(self, path: Path) -> str:
        return f"{self.base_url.rstrip('/')}/{path.stem}" if self.base_url else ""

    def _replace(self, path: Path, text: str) -> None:
        base = path.stem
        # A dot-prefixed temporary name that site generators ignore, renamed
        # into place only once complete and flushed to disk.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{base}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
