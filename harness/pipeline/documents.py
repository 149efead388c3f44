"""Ingest documents (.md, .txt, .jsonl) and cut them into overlapping chunks that keep their offsets.

A chunk always satisfies ``document.text[chunk.start:chunk.end] == chunk.text``, so a citation can point
back at the exact characters of its source document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from harness.config import ChunkingConfig
from harness.errors import ConfigError
from harness.jsonl import iter_jsonl

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES


class Document(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    text: str
    source: str
    title: str = ""
    metadata: dict[str, Any] = {}


class Chunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    title: str = ""


# --- ingest
# ---------------------------------------------------------------------------------------------------


def _title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            return stripped.lstrip("#").strip()[:120] or fallback
    return fallback


def _read_text_file(path: Path, doc_id: str) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc
    return Document(doc_id=doc_id, text=text, source=str(path), title=_title_of(text, doc_id))


def _read_jsonl(path: Path) -> Iterator[Document]:
    for lineno, row in iter_jsonl(path, "corpus file"):
        for field in ("id", "text"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise ConfigError(f"{path}:{lineno}: field '{field}': missing or not a non-empty string")
        metadata = row.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ConfigError(f"{path}:{lineno}: field 'metadata': must be an object")
        title = row.get("title") or _title_of(row["text"], row["id"])
        yield Document(
            doc_id=row["id"], text=row["text"], source=f"{path}:{lineno}", title=str(title), metadata=metadata
        )


def _iter_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        if root.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise ConfigError(f"{root}: unsupported document type {root.suffix!r}; use .md, .txt or .jsonl")
        yield root
        return
    if not root.exists():
        raise ConfigError(f"{root}: corpus path not found")
    yield from sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def load_documents(paths: Iterable[Path]) -> list[Document]:
    """Read every document under ``paths`` in a stable order. Text files get ids from their path relative
    to the corpus root without the suffix (``policies/travel``); JSONL rows carry their own ``id``."""
    documents: list[Document] = []
    origin: dict[str, str] = {}
    for root in paths:
        root = Path(root)
        for file in _iter_files(root):
            if file.suffix.lower() in JSONL_SUFFIXES:
                docs = list(_read_jsonl(file))
            else:
                rel = file.relative_to(root) if root.is_dir() else Path(file.name)
                docs = [_read_text_file(file, rel.with_suffix("").as_posix())]
            for doc in docs:
                if doc.doc_id in origin:
                    raise ConfigError(
                        f"{doc.source}: duplicate document id {doc.doc_id!r} (also in {origin[doc.doc_id]})"
                    )
                origin[doc.doc_id] = doc.source
                documents.append(doc)
    if not documents:
        raise ConfigError(f"no .md, .txt or .jsonl documents found under {[str(p) for p in paths]}")
    if not any(doc.text.strip() for doc in documents):
        raise ConfigError(
            f"corpus under {[str(p) for p in paths]}: all {len(documents)} documents are empty or "
            "whitespace only; there is nothing to index"
        )
    return documents


# --- chunk --------------------------------------------------------------------------------------------------

_BREAKS = [re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+")]


def _cut_point(text: str, start: int, hard_end: int, min_len: int) -> int:
    """The best place to end a chunk in ``text[start:hard_end]``: a paragraph break, else a sentence end,
    else whitespace, as late as possible but not before ``start + min_len``."""
    if hard_end >= len(text):
        return len(text)
    window = text[start:hard_end]
    for pattern in _BREAKS:
        ends = [m.end() for m in pattern.finditer(window) if m.start() >= min_len]
        if ends:
            return start + ends[-1]
    return hard_end


def chunk_document(doc: Document, cfg: ChunkingConfig) -> list[Chunk]:
    text = doc.text
    chunks: list[Chunk] = []
    start = len(text) - len(text.lstrip())
    while start < len(text):
        end = _cut_point(text, start, start + cfg.size, min_len=cfg.size // 2)
        piece = text[start:end]
        trimmed_end = start + len(piece.rstrip())
        if trimmed_end > start:
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    start=start,
                    end=trimmed_end,
                    text=text[start:trimmed_end],
                    title=doc.title,
                )
            )
        if end >= len(text):
            break
        # Step back by `overlap` characters, then forward to the start of a word.
        next_start = max(end - cfg.overlap, start + 1)
        while next_start < end and not text[next_start - 1].isspace():
            next_start += 1
        while next_start < len(text) and text[next_start].isspace():
            next_start += 1
        start = next_start
    return chunks


def chunk_documents(docs: Iterable[Document], cfg: ChunkingConfig) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc, cfg)]


__all__ = ["Chunk", "Document", "chunk_document", "chunk_documents", "load_documents"]
