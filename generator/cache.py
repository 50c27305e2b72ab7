"""Everything kept between builds under `build/cache/`, and the one rule that invalidates it.

The rule: every key holds `code_version()`, a hash of this tool's own code and of its
libraries' installed files (for what goes into a package, SQLite's and zlib's versions
too). Editing any module of the tool, or upgrading a library,
invalidates everything kept; nothing else is versioned by hand.

What is kept: each source file's rendered cards (keyed by its path and bytes, and refused
when a media file or folder it consulted changed since, or when it cannot be read), the
collection's layout (the part of a package that genanki lays out), and for each package
written, a digest of its inputs (an untouched package whose inputs are unchanged is not
written again). `--no-cache` builds without reading or writing any of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pickle
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from generator import atomic
from generator.diagnostics import Diagnostic
from generator.media import Probe, signature
from generator.model import MediaFile, Note, RenderedCard, by_constructor

log = logging.getLogger("deck.cache")
T = TypeVar("T")
# the libraries whose output a build's bytes depend on
LIBRARIES = ("markdown_it", "mdit_py_plugins", "mdurl", "linkify_it", "pygments", "yaml",
             "latex2mathml", "genanki")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """This tool's code and its libraries' installed files: what the cards a build renders
    depend on besides the sources."""
    import importlib.util

    h = hashlib.sha256(f"{sys.version_info[:2]}\0".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    for name in LIBRARIES:
        # an installed package's files change when it is upgraded (reading its version
        # from its metadata costs 25 ms on every build)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            stat = os.stat(spec.origin)
            h.update(f"{name}\0{spec.origin}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def package_version() -> str:
    """`code_version()`, and SQLite and zlib, which write a package's bytes (only a build
    that writes one imports them)."""
    return f"{code_version()}\0{_native_versions()}"


@functools.lru_cache(maxsize=1)
def _native_versions() -> str:
    import sqlite3
    import zlib

    return f"{sqlite3.sqlite_version}\0{zlib.ZLIB_RUNTIME_VERSION}"


@by_constructor
@dataclass(frozen=True, slots=True)
class FileResult:
    """Everything one source file contributes to a build."""

    key: str
    path: str
    cards: tuple[RenderedCard, ...]
    diagnostics: tuple[Diagnostic, ...]
    consulted: tuple[tuple[Probe, object], ...] = ()  # what its media looked like


def pickled(result: FileResult) -> bytes:
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


class Cache:
    """The cache of one project's settings (its source and media folders): each has its
    own entries, so two decks built from one project do not prune each other's. A
    disabled cache (`--no-cache`) holds nothing and keeps nothing."""

    def __init__(self, build_dir: Path, source: Path, media: Path, enabled: bool = True):
        self.root = build_dir / "cache"
        self.enabled = enabled
        if not enabled:
            log.debug("cache: off (--no-cache): every file is rendered, nothing is kept")
        settings = f"{source}\0{media}"
        self.scope = hashlib.sha256(settings.encode()).hexdigest()[:16]
        self.folder = self.root / "files" / self.scope
        # the project's folder too: messages name files relative to it
        self.salt = f"{code_version()}\0{settings}\0{build_dir}\0".encode()
        self._seen: dict[Probe, object] = {}
        self.served: set[str] = set()  # keys this build found here

    # --- rendered cards, per source file ---

    def key(self, path: str, text: str) -> str:
        return self.key_for(self.salt, path, text)

    @staticmethod
    def key_for(salt: bytes, path: str, text: str) -> str:
        return hashlib.sha256(salt + path.encode() + b"\0" + text.encode()).hexdigest()

    def holds(self, key: str) -> bool:
        """Whether an entry for `key` exists (`get` may still refuse it)."""
        return self.enabled and os.path.exists(self.folder / key)

    def get(self, key: str, path: str = "") -> FileResult | None:
        """The entry for `key`, unless it cannot be trusted (said in the debug log)."""
        if not self.enabled:
            return None
        try:
            with open(self.folder / key, "rb") as handle:
                result = pickle.load(handle)
        except Exception as error:  # truncated, corrupt, unreadable: rebuild it
            log.debug("cache: '%s' rendered again: its entry cannot be read (%s)", path,
                      f"{type(error).__name__}: {error}")
            return None
        if not isinstance(result, FileResult) or result.key != key:
            log.debug("cache: '%s' rendered again: its entry holds something else", path)
            return None
        for probe, seen in result.consulted:
            if self._now(probe) != seen:
                log.debug("cache: '%s' rendered again: %s changed", path, probe)
                return None
        self.served.add(key)
        return result

    def missed(self, path: str) -> None:
        if self.enabled:
            log.debug("cache: '%s' rendered: no entry (new, edited, or the tool changed)",
                      path)

    def _now(self, probe: Probe) -> object:
        """`probe.now()`, asked once per build: many files show the same images."""
        if probe not in self._seen:
            self._seen[probe] = probe.now()
        return self._seen[probe]

    def put(self, result: FileResult) -> None:
        """Best effort: a cache that cannot be written only makes the next build slower."""
        atomic.write_quietly(self.folder / result.key, pickled(result))

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
        if self.enabled:
            shutil.rmtree(self.folder, ignore_errors=True)

    def staging(self) -> Staging | None:
        return Staging(self) if self.enabled else None

    # --- values made from a few inputs (the collection's layout) ---

    def value(self, name: str, inputs: object, make: Callable[[], T], kind: type) -> T:
        """The value kept under `name` if it was made from `inputs` (by this code), else
        `make()`, kept for next time."""
        key = hashlib.sha256(f"{package_version()}\0{inputs!r}".encode()).hexdigest()
        path = self.root / "values" / self.scope / f"{name}.pickle"
        if self.enabled:
            try:
                with open(path, "rb") as handle:
                    kept_key, kept = pickle.load(handle)
                if kept_key == key and isinstance(kept, kind):
                    return kept  # type: ignore[return-value]  # checked: an instance of `kind`
                log.debug("cache: the %s is made again: its inputs changed", name)
            except Exception:  # absent, truncated, corrupt
                log.debug("cache: the %s is made: none kept", name)
        made = make()
        if self.enabled:
            atomic.write_quietly(path, pickle.dumps((key, made),
                                                    protocol=pickle.HIGHEST_PROTOCOL))
        return made

    # --- packages written ---

    def same_output(self, output: Path, digest: str) -> bool:
        """Whether `output` is still exactly the package built from `digest`'s inputs."""
        if not self.enabled:
            return False
        try:
            recorded = json.loads((self.root / "outputs.json").read_text(encoding="utf-8"))
            return recorded[str(output)] == [digest, *(signature(str(output)) or ())]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def record_output(self, output: Path, digest: str) -> None:
        if not self.enabled:
            return
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
        atomic.write_quietly(path, json.dumps(recorded, sort_keys=True))


def output_digest(notes: tuple[Note, ...], media: tuple[MediaFile, ...], id_base: int,
                  css: str, notetype_mods: dict[int, int], kept: tuple = ()) -> str:
    """Everything a package's bytes depend on, this tool's own code included."""
    h = hashlib.sha256(f"{package_version()}\0{id_base}\0{css}\0"
                       f"{sorted(notetype_mods.items())}\0{kept!r}\0".encode())
    for note in notes:
        h.update(f"{note.guid}\0{note.mod}\0{note.keys.content}\0{note.card.deck}\n".encode())
    for item in media:
        h.update(f"{item.name}\0".encode())
    return h.hexdigest()


class Staging:
    """Entries written while a build runs, moved into the cache only once it succeeds
    (`commit`), or removed with every folder made for them (`discard`): a failed build
    leaves no cache behind. Written as they arrive, so the pickles of 100,000 cards are
    never held in memory at once."""

    def __init__(self, cache: Cache):
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
                path = self._make_folder() / result.key
                path.write_bytes(blob)
            except OSError:
                path = None  # pickled again at commit
        self.entries.append((result, path))

    def _make_folder(self) -> Path:
        if self.folder is not None:
            return self.folder
        entries = self.cache.folder
        missing = [p for p in (entries, *entries.parents) if not p.exists()]
        entries.mkdir(parents=True, exist_ok=True)
        self.made = missing  # innermost first: the order to remove them in
        # beside the entries: moving one in is a rename
        self.folder = Path(tempfile.mkdtemp(dir=entries, prefix=".staging-"))
        return self.folder

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

