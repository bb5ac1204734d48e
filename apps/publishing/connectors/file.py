"""Publishing to a folder of Markdown files with YAML front matter (a static site).

Hugo, Jekyll, Eleventy and Astro read the same shape: `---`, YAML, `---`, body.
The file is written atomically (a temporary file renamed into place), so a
site build never sees half a post, and a retried attempt of the same
publication finds its earlier file by the idempotency key in the front matter
instead of writing a second one.

With `git_commit` the folder must lie in a git repository (its own, not one
above the publish folder): every write and every removal is committed there,
that one file only (`git commit -- <file>`: whatever else is staged stays
staged), by `git_author`. A retried attempt commits what an earlier one left
uncommitted, and commits nothing when the file is already committed as is.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from django.conf import settings

from apps.publishing.connectors import base
from apps.publishing.formatting import slug
from apps.publishing.models import PublishingTarget

FENCE = "---"
SLUG_MAX = 80
FRONT_MATTER_MAX_LINES = 200  # a post's own front matter is a dozen lines
DEFAULT_GIT_AUTHOR = "AIGC Platform <platform@localhost>"
GIT_AUTHOR_RE = re.compile(r"([^<>\n]*[^<>\s])\s*<([^<>\s]+)>")
# Committing one file takes milliseconds; a hook or a lock holding on longer is a
# failed attempt (retried), not something to wait out inside the publish task.
GIT_TIMEOUT_S = 30


def git_author_parse(value: str) -> tuple[str, str]:
    """("Name", "email") from "Name <email>", or PermanentPublishError."""
    match = GIT_AUTHOR_RE.fullmatch(value.strip())
    if match is None:
        raise base.PermanentPublishError(
            f"A file target's 'git_author' has the form 'Name <email>', not '{value}'.")
    return match[1], match[2]


def _git_author_refusal(value: Any) -> str | None:
    try:
        git_author_parse(str(value))
    except base.PermanentPublishError as exc:
        return exc.message
    return None


def _folder_refusal(value: Any) -> str | None:
    # Relative to the platform's publish folder, so an editor cannot make a worker write
    # anywhere else on its disk.
    folder = PurePosixPath(str(value))
    if not str(folder) or str(folder) == "." or folder.is_absolute() or ".." in folder.parts:
        return "A file target needs a relative 'folder' (no '..') in its config."
    return None


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


def slug_for(item: base.PublishItem) -> str:
    # A title without words a slug can keep falls back to a stable name from the key.
    return (slug(item.title, language_tag=item.language, max_length=SLUG_MAX)
            or f"post-{item.idempotency_key[:8]}")


def render(item: base.PublishItem, *, slug: str) -> str:
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


@dataclass(frozen=True, kw_only=True)
class FileConnector:
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(settings=(
        base.Setting("folder", "a folder inside the publish folder", required=True,
                     check=_folder_refusal),
        base.Setting("base_url", "the site's URL (links to posts)"),
        base.Setting("git_commit", "true|false",
                     check=base.boolean("A file target's 'git_commit' is true or false.")),
        base.Setting("git_author", "'Name <email>'", check=_git_author_refusal),
    ))

    folder: Path
    base_url: str = ""
    git_commit: bool = False
    git_author: str = DEFAULT_GIT_AUTHOR
    # The repository must lie inside this folder, so a post is never committed
    # into a repository above it (the platform's own checkout, say).
    git_within: Path | None = None

    @classmethod
    def from_target(cls, target: PublishingTarget) -> FileConnector:
        config = target.config
        root = Path(settings.PUBLISH_FILES_DIR)
        folder = Path(str(config.get("folder", "")))
        if not folder.is_absolute():
            folder = root / folder
        return cls(folder=folder, base_url=str(config.get("base_url", "")),
                   git_commit=config.get("git_commit") is True,
                   git_author=str(config.get("git_author") or DEFAULT_GIT_AUTHOR),
                   git_within=root if folder.is_relative_to(root) else folder)

    def validate(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise base.PermanentPublishError(f"{self.folder} is not a folder.")
        if self.folder.is_dir() and not os.access(self.folder, os.W_OK | os.X_OK):
            raise base.PermanentPublishError(f"The platform may not write to {self.folder}.")
        if self.git_commit:
            git_author_parse(self.git_author)
            self._repository()

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        stem = slug_for(item)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self._earlier_file(item, stem) or self._write(item, stem)
        except PermissionError as exc:
            raise base.PermanentPublishError(f"Cannot write to {self.folder}: {exc.strerror}.") from exc
        except OSError as exc:  # a full disk or a flaky network share: worth another try
            raise base.TransientPublishError(f"Writing to {self.folder} failed: {exc}.") from exc
        if self.git_commit:
            self._commit(path, f'Publish "{item.title}" (publication {item.publication_id})')
        return base.PublishResult(external_id=path.relative_to(self.folder).as_posix(),
                                  external_url=self._url(path))

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        """The same file (`external_id`, relative to the folder) rewritten atomically with
        the new revision; its name, and so its URL, stays."""
        path = self._post_path(external_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._replace(path, render(item, slug=path.stem))
        except PermissionError as exc:
            raise base.PermanentPublishError(f"Cannot write to {self.folder}: {exc.strerror}.") from exc
        except OSError as exc:
            raise base.TransientPublishError(f"Writing to {self.folder} failed: {exc}.") from exc
        if self.git_commit:
            self._commit(path, f'Update "{item.title}" (publication {item.publication_id}, '
                               f"revision {item.revision})")
        return base.PublishResult(external_id=external_id, external_url=self._url(path))

    def unpublish(self, external_id: str) -> None:
        """Deletes the file (one already gone is not an error); with `git_commit`, the
        removal is committed, naming the post's title from its front matter."""
        path = self._post_path(external_id)
        title = _front_matter_title(path) if path.is_file() else None
        try:
            path.unlink(missing_ok=True)
        except PermissionError as exc:
            raise base.PermanentPublishError(f"Cannot delete {path}: {exc.strerror}.") from exc
        except OSError as exc:
            raise base.TransientPublishError(f"Deleting {path} failed: {exc}.") from exc
        if self.git_commit:
            named = f'"{title}" ({external_id})' if title is not None else external_id
            self._commit(path, f"Withdraw {named}", removed=True)

    def preview(self, item: base.PublishItem) -> base.Preview:
        return base.Preview(format="markdown", title=item.title,
                            parts=(render(item, slug=slug_for(item)),))

    def _post_path(self, external_id: str) -> Path:
        path = self.folder / external_id
        if path.resolve().parent != self.folder.resolve() or path.suffix != ".md":
            raise base.PermanentPublishError(f"'{external_id}' is not a post of {self.folder}.")
        return path

    def _candidates(self, stem: str) -> list[Path]:
        # The slug comes from the title, so an earlier attempt wrote `stem.md`
        # or, when that name was taken by another post, `stem-<n>.md`: looking
        # at those few files keeps a retry O(1) in the size of the site.
        return sorted(self.folder.glob(f"{stem}.md")) + sorted(self.folder.glob(f"{stem}-*.md"))

    def _earlier_file(self, item: base.PublishItem, stem: str) -> Path | None:
        key_line = _key_line(item.idempotency_key)
        for path in self._candidates(stem):
            if key_line in _front_matter(path):
                return path
        return None

    def _write(self, item: base.PublishItem, stem: str) -> Path:
        names = itertools.chain([f"{stem}.md"], (f"{stem}-{n}.md" for n in itertools.count(2)))
        path = next(self.folder / name for name in names if not (self.folder / name).exists())
        self._replace(path, render(item, slug=path.stem))
        return path

    def _url(self, path: Path) -> str:
        return f"{self.base_url.rstrip('/')}/{path.stem}" if self.base_url else ""

    def _replace(self, path: Path, text: str) -> None:
        # A dot-prefixed temporary name that site generators ignore, renamed
        # into place only once complete and flushed to disk.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- git ----------------------------------------------------------------------

    def _repository(self) -> Path:
        """The top folder of the git repository holding the target folder, or
        PermanentPublishError saying what to do."""
        # The folder itself is made on the first post; its nearest existing parent tells.
        start = next(p for p in (self.folder, *self.folder.parents) if p.is_dir())
        done = self._git(start, "rev-parse", "--show-toplevel", check=False)
        if done.returncode != 0:
            raise base.PermanentPublishError(
                f"{self.folder} is not in a git repository, and the target's 'git_commit' "
                "needs one: run 'git init' there (or in a folder above it), or turn "
                "'git_commit' off.")
        top = Path(done.stdout.strip()).resolve()
        if self.git_within is not None and not top.is_relative_to(self.git_within.resolve()):
            raise base.PermanentPublishError(
                f"{self.folder} is in the git repository {top}, outside {self.git_within}; "
                f"make {self.folder} (or a folder above it within {self.git_within}) a git "
                "repository of its own.")
        return top

    def _commit(self, path: Path, message: str, *, removed: bool = False) -> None:
        """Commit `path` (its new content, or its removal) and nothing else; no-op when
        the repository already has it so."""
        top = self._repository()
        name = path.resolve().relative_to(top).as_posix()
        if removed:
            self._git(top, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", name)
        else:
            self._git(top, "add", "--", name)
        if self._git(top, "diff", "--cached", "--quiet", "--", name, check=False).returncode == 0:
            return  # committed by an earlier attempt
        self._git(top, "commit", "--quiet", "--message", message, "--", name)

    def _git(self, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        author, email = git_author_parse(self.git_author)
        # Only our own GIT_* variables: inherited ones (GIT_DIR, GIT_INDEX_FILE in a
        # hook's environment) would point git at another repository.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {
            "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email,
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
        }
        try:
            done = subprocess.run(["git", "--literal-pathspecs", *args], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise base.TransientPublishError(
                f"git {args[0]} in {cwd} took longer than {GIT_TIMEOUT_S} s.") from exc
        except FileNotFoundError as exc:
            raise base.PermanentPublishError("The target's 'git_commit' needs git on the worker.") \
                from exc
        if check and done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            message = f"git {args[0]} failed in {cwd}: {said[-1] if said else done.returncode}"
            if "index.lock" in done.stderr:  # another git process is at work: try again later
                raise base.TransientPublishError(message)
            raise base.PermanentPublishError(message)
        return done


def _front_matter_title(path: Path) -> str | None:
    """The title our front matter holds (`yaml_str` output reads back as a JSON string)."""
    for line in _front_matter(path):
        if line.startswith("title: "):
            try:
                value = json.loads(line.removeprefix("title: "))
            except ValueError:
                return None
            return value if isinstance(value, str) else None
    return None
