"""Rendered cards cached per source file under `build/cache`, so unchanged cards are not
rendered again.

An entry is keyed by everything its HTML depends on: the file's bytes and path, the
renderer's version, the CSS and highlighting settings. It also records the media files and
folders it consulted; an entry whose media changed, or that cannot be read, is ignored and
rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from generator.media import signature
from generator.diagnostics import Diagnostic
from generator.model import RenderedCard, by_constructor

CACHE_VERSION = "4"
# Part of every key: bump it whenever the HTML a card renders to changes.
RENDERER_VERSION = "3"


@by_constructor
@dataclass(frozen=True, slots=True)
class FileResult:
    """Everything one source file contributes to a build."""

    key: str
    path: str
    cards: tuple[RenderedCard, ...]
    diagnostics: tuple[Diagnostic, ...]
    consulted: tuple[tuple[str, tuple | None], ...] = ()


def pickled(result: FileResult) -> bytes:
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


class FileCache:
    """`scope` names the settings (folders) a build runs with: each has its own entries, so
    two decks built from one project do not prune each other's."""

    def __init__(self, folder: Path, salt: str, scope: str = "default"):
        self.root = folder
        self.scope = hashlib.sha256(scope.encode()).hexdigest()[:16]
        self.folder = folder / "files" / self.scope
        self._seen: dict[str, tuple | None] = {}
        self.served: set[str] = set()  # keys this build found here
        self.salt = f"{CACHE_VERSION}\0{sys.version_info[:2]}\0{salt}\0".encode()

    def key(self, path: str, text: str) -> str:
        return self.key_for(self.salt, path, text)

    @staticmethod
    def key_for(salt: bytes, path: str, text: str) -> str:
        return hashlib.sha256(salt + path.encode() + b"\0" + text.encode()).hexdigest()

    def holds(self, key: str) -> bool:
        """Whether an entry for `key` exists (`get` may still refuse it)."""
        return os.path.exists(self.folder / key)

    def get(self, key: str) -> FileResult | None:
        try:
            with open(self.folder / key, "rb") as handle:
                result = pickle.load(handle)
        except Exception:  # absent, truncated, corrupt, from another version: rebuild it
            return None
        if not isinstance(result, FileResult) or result.key != key:
            return None
        for path, seen in result.consulted:
            if self._now(path) != seen:
                return None  # an image it shows, or a folder it looked in, changed
        self.served.add(key)
        return result

    def prune(self, keep: set[str]) -> None:
        """Remove the entries a successful build did not use (files edited since, or gone:
        otherwise every save would leave one behind for good), what an older version of
        this cache left, and what a build killed midway left over an hour ago."""
        _remove_unless(self.folder, lambda name: name in keep or (
            name.startswith(".") and _age(self.folder / name) < 3600))
        _remove_unless(self.folder.parent, lambda name: len(name) == 16 and
                       (self.folder.parent / name).is_dir())

    def forget(self) -> None:
        """Drop every entry of this setting: what they say about a file is not true."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _now(self, key: str):
        """`signature(key)`, asked once per build: many files show the same images."""
        if key not in self._seen:
            self._seen[key] = signature(key)
        return self._seen[key]

    def put(self, result: FileResult) -> None:
        """Best effort: a cache that cannot be written only makes the next build slower."""
        folder = self.folder
        tmp = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(pickled(result))
            os.replace(tmp, folder / result.key)
        except OSError:
            if tmp is not None:  # a full disk must not leave half an entry behind
                Path(tmp).unlink(missing_ok=True)

    def staging(self) -> Staging:
        return Staging(self)

    def _value_path(self, name: str) -> Path:
        return self.root / "values" / self.scope / f"{name}.pickle"

    def value(self, name: str, key: str):
        """The value last kept under `name`, if it was kept for `key`."""
        try:
            with open(self._value_path(name), "rb") as handle:
                kept_key, value = pickle.load(handle)
        except Exception:  # absent, truncated, corrupt, from another version
            return None
        return value if kept_key == key else None

    def keep_value(self, name: str, key: str, value) -> None:
        """Best effort, like `put`."""
        tmp = None
        path = self._value_path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump((key, value), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def same_output(self, output: Path, digest: str) -> bool:
        """Whether `output` is still exactly the package built from `digest`'s inputs."""
        try:
            recorded = json.loads((self.root / "outputs.json").read_text(encoding="utf-8"))
            return recorded[str(output)] == [digest, *signature(str(output))]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def record_output(self, output: Path, digest: str) -> None:
        path = self.root / "outputs.json"
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(recorded, dict):
                recorded = {}
        except (OSError, ValueError):
            recorded = {}
        seen = signature(str(output))
        if seen is None or recorded.get(str(output)) == [digest, *seen]:
            return
        recorded[str(output)] = [digest, *seen]
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(recorded, handle, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            pass


class Staging:
    """Entries written while a build runs, moved into the cache only once it succeeds
    (`commit`), or removed with every folder made for them (`discard`): a failed build
    leaves no cache behind. Written as they arrive, so the pickles of 100,000 cards are
    never held in memory at once."""

    def __init__(self, cache: FileCache):
        self.cache = cache
        self.folder: Path | None = None
        self.made: list[Path] = []
        self.entries: list[tuple[FileResult, Path | None]] = []

    def add(self, result: FileResult, blob: bytes | None) -> None:
        if not result.key:
            return
        path = None
        if blob is not None:
            try:
                if self.folder is None:
                    self._make_folder()
                path = self.folder / result.key
                path.write_bytes(blob)
            except OSError:
                path = None  # pickled again at commit
        self.entries.append((result, path))

    def _make_folder(self) -> None:
        entries = self.cache.folder
        missing = [p for p in (entries, *entries.parents) if not p.exists()]
        entries.mkdir(parents=True, exist_ok=True)
        self.made = missing  # innermost first: the order to remove them in
        # beside the entries: moving one in is a rename
        self.folder = Path(tempfile.mkdtemp(dir=entries, prefix=".staging-"))

    def commit(self) -> None:
        for result, path in self.entries:
            if path is None:
                self.cache.put(result)
                continue
            try:
                os.replace(path, self.cache.folder / result.key)
            except OSError:
                pass
        self.cache.prune(self.cache.served | {result.key for result, _ in self.entries})
        self.made = []
        self.discard()

    def discard(self) -> None:
        self.entries = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        for folder in self.made:
            try:
                folder.rmdir()
            except OSError:
                break
        self.made = []


def _remove_unless(folder: Path, keep) -> None:
    """Remove every file or folder in `folder` whose name `keep` refuses; best effort."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if keep(name):
            continue
        path = folder / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            pass


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0

