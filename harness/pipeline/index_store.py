"""The on-disk index folder, and how it knows when it is stale. Backend-neutral: the backend that builds and
loads the vectors comes from :data:`harness.pipeline.retrievers.RETRIEVERS`.

The folder holds the backend's own files (``index.faiss`` for faiss), ``chunks.jsonl`` and ``manifest.json``.
The manifest names the backend that wrote it, and its ``content_hash`` covers the chunks (ids, offsets, text),
the chunking, the embedder's fingerprint and the backend's index kind; a folder whose hash differs from the
current corpus is rebuilt, with a message, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.errors import BackendUnavailable
from harness.pipeline.documents import Chunk
from harness.pipeline.protocols import Embedder, Retriever
from harness.pipeline.retrievers import RETRIEVERS
from harness.registry import BuildContext

INDEX_FORMAT_VERSION = 1


class IndexManifest(BaseModel):
    format_version: int = INDEX_FORMAT_VERSION
    content_hash: str
    n_chunks: int
    dim: int
    index: str
    backend: str = "faiss"
    embedder: dict[str, Any]
    built_at: str
    build_seconds: float


def content_hash(chunks: Sequence[Chunk], embedder: Embedder, index_kind: str) -> str:
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {"format": INDEX_FORMAT_VERSION, "index": index_kind, "embedder": embedder.fingerprint()},
            sort_keys=True,
        ).encode()
    )
    for c in chunks:
        digest.update(f"\x00{c.chunk_id}\x00{c.doc_id}\x00{c.start}\x00{c.end}\x00".encode())
        digest.update(c.text.encode())
    return digest.hexdigest()


class IndexStatus(BaseModel):
    folder: str
    action: str  # "loaded" | "built" | "rebuilt"
    reason: str
    n_chunks: int
    seconds: float


def _read_manifest(folder: Path) -> IndexManifest | None:
    try:
        return IndexManifest.model_validate_json((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def open_index(
    folder: Path,
    chunks: Sequence[Chunk],
    embedder: Embedder,
    config: Any,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> tuple[Retriever, IndexStatus]:
    """Load the index in ``folder`` if it matches ``chunks`` and ``embedder``; otherwise (re)build and save
    it.
    ``config`` is the scenario's retriever config; the backend that loads a stored index is the one its
    manifest names."""
    started = time.perf_counter()
    backend = RETRIEVERS.build(config)
    expected = content_hash(chunks, embedder, backend.kind)
    manifest = _read_manifest(folder)
    if manifest is not None and manifest.content_hash == expected and not force:
        try:
            index = RETRIEVERS.factory(manifest.backend)(config, ctx=BuildContext()).load(folder)
        except (RuntimeError, OSError, ValueError) as exc:  # faiss raises RuntimeError on a corrupt file
            log(f"index at {folder} is unreadable ({exc}); rebuilding")
        else:
            if index.size == len(chunks):
                return index, IndexStatus(
                    folder=str(folder),
                    action="loaded",
                    reason="content hash matches",
                    n_chunks=index.size,
                    seconds=time.perf_counter() - started,
                )
            log(f"index at {folder} has {index.size} vectors for {len(chunks)} chunks; rebuilding")
    if force:
        action, reason = "rebuilt", "--force"
    elif manifest is None:
        action, reason = "built", "no index yet"
    else:
        action, reason = "rebuilt", "stale: corpus, chunking or embedder changed since it was built"
        log(f"index at {folder} is stale (corpus, chunking or embedder changed); rebuilding")
    vectors = embedder.embed([c.text for c in chunks], kind="passage")
    index = backend.build(vectors)
    _save(
        folder,
        index,
        chunks,
        IndexManifest(
            content_hash=expected,
            n_chunks=len(chunks),
            dim=int(vectors.shape[1]),
            index=backend.kind,
            backend=backend.name,
            embedder=embedder.fingerprint(),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(time.perf_counter() - started, 3),
        ),
    )
    return index, IndexStatus(
        folder=str(folder),
        action=action,
        reason=reason,
        n_chunks=len(chunks),
        seconds=time.perf_counter() - started,
    )


def _save(folder: Path, index: Retriever, chunks: Sequence[Chunk], manifest: IndexManifest) -> None:
    """Write to a sibling temp folder, then swap it in, so a crash never leaves a half-written index.

    ``chunks.jsonl`` holds the corpus text in clear (the pipeline must hand the real passages to the
    generator,
    and redacting them would change what retrieval finds), so the folder is owner-only (0700) and every file
    in
    it 0600: the index cache is as private as the user's own copy of the corpus, never more readable."""
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder.parent, 0o700)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    os.chmod(tmp, 0o700)
    try:
        index.save(tmp)
        fd = os.open(tmp / "chunks.jsonl", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(c.model_dump_json() + "\n")
        (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        for written in tmp.iterdir():
            os.chmod(written, 0o600 if written.is_file() else 0o700)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BackendUnavailable(f"cannot write index to {folder}: {exc}") from exc
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


__all__ = ["INDEX_FORMAT_VERSION", "IndexManifest", "IndexStatus", "content_hash", "open_index"]
