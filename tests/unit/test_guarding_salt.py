"""The salt of findings' hashes: read once per process, but per cache folder (the variables choose it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.guarding import salted_hash


def test_the_salt_follows_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_HARDEN_HASH_SALT", raising=False)
    monkeypatch.setenv("RAG_HARDEN_CACHE", str(tmp_path / "a"))
    first = salted_hash("555-0100")
    assert (tmp_path / "a" / "hash-salt").is_file() and salted_hash("555-0100") == first
    monkeypatch.setenv("RAG_HARDEN_CACHE", str(tmp_path / "b"))
    assert salted_hash("555-0100") != first  # a new folder, a new random salt
    monkeypatch.setenv("RAG_HARDEN_CACHE", str(tmp_path / "a"))
    assert salted_hash("555-0100") == first
    monkeypatch.setenv("RAG_HARDEN_HASH_SALT", "explicit")
    assert salted_hash("555-0100") != first
