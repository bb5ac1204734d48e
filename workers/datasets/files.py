"""Uploaded files as raw documents: txt, md, html, csv, jsonl, and zip archives of those.

A zip is read member by member with limits checked before anything is inflated (member
count, declared sizes, compression ratio) and while inflating (bytes actually read), so a
zip bomb stops at the limit instead of filling memory; members with absolute paths or
`..` parts, links and nested archives are refused, since nothing is ever written to disk
under a member's name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import stat
import zipfile
from pathlib import PurePosixPath
from typing import Any

from workers.datasets.types import HTML, TEXT, RawDocument

UPLOAD_MAX_BYTES = 50 * 1024 * 1024
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_TOTAL_BYTES = 200 * 1024 * 1024  # inflated, all members together
ZIP_MAX_RATIO = 100  # inflated / compressed, per member: text compresses ~3-10x
TEXT_FIELDS = ("text", "content", "body")
FORMATS = {".txt": TEXT, ".md": TEXT, ".markdown": TEXT, ".html": HTML, ".htm": HTML}
SUFFIXES = (*FORMATS, ".csv", ".jsonl", ".zip")


class UploadRefused(ValueError):
    """The file cannot be imported; the message says why, for the uploader."""


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused(f"{name} is not UTF-8 text.") from None


def _doc_id(name: str, index: int, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{name}#{index}:{digest}"


def _records(rows: list[dict[str, Any]], name: str, fmt: str) -> list[RawDocument]:
    documents = []
    for index, row in enumerate(rows, start=1):
        field = next((f for f in TEXT_FIELDS if isinstance(row.get(f), str)), None)
        if field is None:
            raise UploadRefused(f"{name}, record {index}: no text field "
                                f"(one of {', '.join(TEXT_FIELDS)}).")
        text, title = row[field], str(row.get("title") or "")
        documents.append(RawDocument(id=str(row.get("id") or _doc_id(name, index, text)),
                                     text=text, format=HTML if row.get("format") == HTML else fmt,
                                     source=name, title=title))
    return documents


def _jsonl(text: str, name: str) -> list[RawDocument]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UploadRefused(f"{name}, line {number}: not JSON ({exc.msg}).") from None
        if not isinstance(row, dict):
            raise UploadRefused(f"{name}, line {number}: a record is a JSON object.")
        rows.append(row)
    return _records(rows, name, TEXT)


def _csv(text: str, name: str) -> list[RawDocument]:
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise UploadRefused(f"{name}: not CSV ({exc}).") from None
    return _records(rows, name, TEXT)


def _file_documents(name: str, data: bytes) -> list[RawDocument]:
    suffix = PurePosixPath(name.lower()).suffix
    if suffix == ".zip":
        raise UploadRefused(f"{name}: archives inside archives are not read.")
    if suffix not in SUFFIXES:
        raise UploadRefused(f"{name}: not a file kind that can be imported "
                            f"({', '.join(SUFFIXES)}).")
    text = _decode(data, name)
    if suffix == ".jsonl":
        return _jsonl(text, name)
    if suffix == ".csv":
        return _csv(text, name)
    return [RawDocument(id=_doc_id(name, 1, text), text=text, format=FORMATS[suffix], source=name)
            ] if text.strip() else []


def _safe_member(info: zipfile.ZipInfo) -> bool:
    path = info.filename
    mode = info.external_attr >> 16
    return not (path.startswith(("/", "\\")) or ":" in path.split("/")[0]
                or ".." in PurePosixPath(path.replace("\\", "/")).parts
                or posixpath.isabs(path) or stat.S_ISLNK(mode))


def _zip_documents(name: str, data: bytes) -> list[RawDocument]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UploadRefused(f"{name} is not a zip archive.") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > ZIP_MAX_MEMBERS:
        raise UploadRefused(f"{name} holds {len(members)} files; at most {ZIP_MAX_MEMBERS}.")
    declared = sum(m.file_size for m in members)
    if declared > ZIP_MAX_TOTAL_BYTES:
        raise UploadRefused(f"{name} inflates to {declared} bytes; at most {ZIP_MAX_TOTAL_BYTES}.")
    documents: list[RawDocument] = []
    inflated = 0
    for member in members:
        if not _safe_member(member):
            raise UploadRefused(f"{name}: member {member.filename!r} points outside the archive.")
        if member.file_size > ZIP_MAX_RATIO * max(member.compress_size, 1):
            raise UploadRefused(f"{name}: member {member.filename!r} inflates more than "
                                f"{ZIP_MAX_RATIO} times; refused as a possible zip bomb.")
        with archive.open(member) as handle:
            # Read at most what the header declared (plus one byte): a lying header stops here.
            content = handle.read(member.file_size + 1)
        if len(content) > member.file_size:
            raise UploadRefused(f"{name}: member {member.filename!r} is larger than declared.")
        inflated += len(content)
        if inflated > ZIP_MAX_TOTAL_BYTES:
            raise UploadRefused(f"{name} inflates past {ZIP_MAX_TOTAL_BYTES} bytes.")
        if PurePosixPath(member.filename).name.startswith("."):
            continue  # macOS resource forks and hidden files
        documents += _file_documents(f"{name}/{member.filename}", content)
    return documents


def upload_documents(name: str, data: bytes) -> list[RawDocument]:
    """The documents of one uploaded file; UploadRefused says why it cannot be read."""
    if len(data) > UPLOAD_MAX_BYTES:
        raise UploadRefused(f"{name} is larger than {UPLOAD_MAX_BYTES} bytes.")
    name = PurePosixPath(name.replace("\\", "/")).name or "upload"
    if name.lower().endswith(".zip"):
        return _zip_documents(name, data)
    return _file_documents(name, data)
