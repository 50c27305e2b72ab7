"""Runs the stages: discover → parse → render → identify → package. All data is gathered
and checked first; nothing is written while any error remains."""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import pickle
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from generator import lock as lockfile
from generator import memory, pending
from generator.diagnostics import (BuildFailed, DeckError, Diagnostic, Interrupted, Severity,
                                   has_errors)
from generator.media import MediaResolver
from generator.model import (Lock, LockEntry, MediaFile, Note, RenderedCard, SourcePos,
                             Summary, nfc)
from generator.notetypes import BY_KIND, BY_TYPE_ID, css
from generator.check import check_card
from generator.discover import read_source, source_files
from generator.cache import RENDERER_VERSION, FileCache, FileResult, Staging, pickled


@dataclass(frozen=True)
class Project:
    root: Path
    source: Path
    media: Path
    output: Path | None  # None: build/<name>.apkg

    @property
    def lock_path(self) -> Path:
        return self.source / lockfile.LOCK_NAME

    @property
    def memory_path(self) -> Path:
        return memory.location(self.root, self.source)


def load_project(source: str | None = None, media: str | None = None,
                 output: str | None = None, cwd: Path | None = None) -> Project:
    cwd = (cwd or Path.cwd()).resolve()
    source_dir = (cwd / (source or "source")).resolve()
    if not source_dir.is_dir():
        raise DeckError(f"source folder '{source or 'source'}' not found; run in a project "
                        "with a 'source/' folder or pass --source DIR")
    root = cwd if source_dir == cwd or cwd in source_dir.parents else source_dir.parent
    target = (cwd / output).resolve() if output else None
    if target is not None and (target.suffix.lower() == ".md" or source_dir in target.parents):
        raise DeckError(f"refusing to write the package to '{output}': it would overwrite or "
                        "sit among the sources; write it under 'build/'")
    return Project(root=root, source=source_dir, media=(cwd / (media or "media")).resolve(),
                   output=target)


@dataclass(frozen=True)
class Compiled:
    """Everything a build would write, decided without writing anything."""

    notes: tuple[Note, ...]
    removed: tuple[LockEntry, ...]  # live in the lock, gone from the sources now
    media: tuple[MediaFile, ...]
    diagnostics: tuple[Diagnostic, ...]
    fresh: tuple[FileResult, ...]  # files rendered anew: cached once a build succeeds
    notetype_mods: dict[int, int]
    id_base: int
    css: str
    rows: tuple[LockEntry, ...]  # the lock's rows this build writes
    project: str  # the lock's project value
    hashes: dict[int, str]  # note type fingerprints
    shapes: dict[int, str]  # note type shapes (fields and templates)
    mirrored: bool = False  # this machine's memory was the lock as read
    read: Lock | None = None  # the lock as read: its unchanged rows keep their lines

    @functools.cached_property
    def lock_text(self) -> str:
        """The lock this build writes (rendered on demand: while the package compresses)."""
        return lockfile.render_lock(self.rows, self.id_base, self.hashes,
                                    self.notetype_mods, self.shapes, self.project, self.read)

    @functools.cached_property
    def steps(self) -> tuple[pending.Step, ...]:
        """What remains to be done in Anki once this build is imported."""
        return pending.steps(self.rows)


@dataclass(frozen=True)
class LockChoice:
    """What to do with the lock in the source folder (the build options of the same name)."""

    reset: bool = False  # ignore it: every card gets a new identity, or its derived one
    restore: bool = False  # merge in the copy of the last lock this machine wrote
    accept: bool = False  # use it even when it looks older than, or foreign to, that copy


def _without_cycle_collector(function):
    """Run with Python's cycle collector paused (forked workers inherit the pause). A build
    holds a million small acyclic objects that reference counting frees; the collector
    would scan them all over and over, a tenth of a build's time."""
    @functools.wraps(function)
    def paused(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()
    return paused


@_without_cycle_collector
def compile_project(project: Project, now: int,
                    progress: Callable[[int, int], None] | None = None,
                    choice: LockChoice = LockChoice(), workers: int | None = None,
                    use_cache: bool = True, staging: Staging | None = None) -> Compiled:
    """`staging` receives the files rendered anew, to be cached if the build succeeds."""
    files, diagnostics = source_files(project.source)
    cache = staging.cache if staging is not None else _cache(project) if use_cache else None
    results: dict[str, FileResult] = {}
    jobs, stored, unread = [], [], set()
    for rel, path in files:
        text, found = read_source(rel, path)
        diagnostics += found
        if text is None:
            unread.add(rel)
            continue
        # workers read the file again: the texts of 100,000 cards stay out of memory
        job = (rel, str(path), len(text))
        key = cache.key(rel, text) if cache else ""
        (stored if cache is not None and cache.holds(key) else jobs).append((job, key))
    salt = cache.salt if cache else b""
    fresh, failed = [], []

    def take(rendered) -> None:
        for result, blob in rendered:  # staged as they come: their pickles add up
            fresh.append(result)
            results[result.path] = result
            if staging is not None:
                staging.add(result, blob)

    with _Rendering(project, [job for job, _ in jobs], workers, progress, salt,
                    alongside=sum(job[2] for job, _ in stored)) as rendering:
        # the helpers render while this process loads the cache and the lock
        for job, key in stored:
            cached = cache.get(key)
            if cached is None:  # unreadable, or an image it shows changed
                failed.append(job)
            else:
                results[job[0]] = cached
        state = _read_lock(project, choice)
        diagnostics += state.diagnostics
        take(rendering.results())
    # entries refused (an image they show changed, or damaged): rendered like the others
    with _Rendering(project, failed, workers, progress, salt) as rendering:
        take(rendering.results())
    cards = []
    for rel, _ in files:
        if rel in results:
            cards += results[rel].cards
            diagnostics += results[rel].diagnostics
    lock = state.lock
    assignment = lockfile.assign(cards, lock, now, project=state.project,
                                 emitted=state.emitted)
    notes = assignment.notes
    diagnostics += assignment.diagnostics
    stale = state.check(cards, now, assignment)
    diagnostics += stale
    # a file that could not be read, or holds a broken card, has not lost its cards
    broken = {nfc(p) for p in unread | {d.pos.path for d in diagnostics
                                        if d.severity is Severity.ERROR}}
    removed = tuple(e for e in assignment.removed if e.file not in broken)
    if not stale:  # what changed since a lock that is not this project's latest means nothing
        diagnostics += pending.findings(notes, removed, assignment.retyped, broken)
    diagnostics += _deck_case_clashes(notes)
    if not cards and not has_errors(diagnostics):
        diagnostics.append(Diagnostic(SourcePos(".", 1), "E108",
                                      f"no cards in '{_shown(project.source)}'; write "
                                      "Markdown files with '## ' headings there"))
    style = css()
    hashes = {nt.id: nt.fingerprint(style) for nt in BY_KIND.values()}
    shapes = {nt.id: nt.shape_hash() for nt in BY_KIND.values()}
    for nid in lockfile.changed_shapes(lock, shapes):
        diagnostics.append(Diagnostic(SourcePos(lockfile.LOCK_NAME, 1), "E801", (
            f"note type '{BY_TYPE_ID[nid].name}' changed its fields or templates since the "
            "lock; Anki would skip every note of it as conflicting, or force a full sync")))
    mods = lockfile.notetype_mods(lock, hashes, now)
    id_base = lock.id_base or now * 1000
    media = {m.name: m for n in notes for m in n.rendered.media}
    return Compiled(notes=notes, removed=removed,
                    media=tuple(media[k] for k in sorted(media)),
                    diagnostics=tuple(sorted(diagnostics)),
                    rows=assignment.rows, project=assignment.project,
                    hashes=hashes, shapes=shapes, fresh=tuple(fresh),
                    notetype_mods=mods, id_base=id_base, css=style,
                    mirrored=state.mirrored, read=lock)


def _deck_case_clashes(notes) -> list[Diagnostic]:
    """Anki compares deck names without regard to case: `Bio` and `bio` would be one deck
    to it (it renames one on import), and a search for either finds both."""
    decks: dict[str, SourcePos] = {}
    for note in notes:  # each deck at its first card
        card = note.rendered.card
        decks.setdefault(card.deck, card.pos)
    first: dict[str, tuple[str, SourcePos]] = {}
    found = []
    for deck, pos in decks.items():
        parts = deck.split("::")
        for depth in range(1, len(parts) + 1):
            name = "::".join(parts[:depth])
            seen, where = first.setdefault(name.casefold(), (name, pos))
            if seen != name:
                found.append(Diagnostic(pos, "E806", (
                    f"the deck '{name}' differs from the deck '{seen}' ({where.path}) only in "
                    "letter case, which Anki ignores: give both the same name, or two "
                    "different ones")))
                break
    return found


def compile_file(key: str, rel: str, text: str, resolver: MediaResolver) -> FileResult:
    """Parse, render and check one source file: the unit of parallel work and of caching."""
    from generator.render import render_file  # markdown-it and Pygments: only when needed

    consulted = resolver.track()
    rendered, diagnostics = render_file(rel, text, resolver)
    cards = []
    for result in rendered:
        diagnostics += check_card(result)
        cards.append(RenderedCard(result.card, result.fields, result.media, result.raw_html,
                                  lockfile.card_keys(result)))
    if not cards and not diagnostics:
        diagnostics.append(Diagnostic(SourcePos(rel, 1), "W108", "no cards in this file; "
                                      "a card starts at a '## ' heading"))
    return FileResult(key, rel, tuple(cards), tuple(diagnostics), tuple(consulted.items()))


_worker_resolver: MediaResolver | None = None
PARALLEL_BYTES = 256 * 1024  # below this, starting processes costs more than it saves
# A helper for a single file pays off only when this process has about as long meanwhile
# (loading this many bytes of cached files) as the helper takes to start and render.
ALONGSIDE_BYTES = 4 * 1024 * 1024


def _start_worker(source: Path, media: Path, root: Path) -> None:
    global _worker_resolver
    _worker_resolver = MediaResolver(source, media, root)


def _compile_job(job: tuple[str, str, bytes]) -> bytes:
    # pickled here, in parallel, rather than by the pool: these bytes also go to the cache
    return pickled(_read_and_compile(*job, _worker_resolver))


def _read_and_compile(rel: str, path: str, salt: bytes, resolver: MediaResolver) -> FileResult:
    text, found = read_source(rel, Path(path))
    if text is None:  # changed since it was first read, and now unreadable
        return FileResult("", rel, (), tuple(found))
    # keyed by what was read here, in case the file changed since
    return compile_file(FileCache.key_for(salt, rel, text) if salt else "", rel, text, resolver)


class _Rendering:
    """Renders `jobs` from the moment it is entered: in helper processes when the work is
    big enough, or when this process has as much to do meanwhile (`alongside`: bytes of
    cached files to load); otherwise here, in `results`. Results come in the order of
    `jobs`, whatever the number of processes, with their pickle when a helper made one."""

    def __init__(self, project: Project, jobs, workers: int | None, progress, salt: bytes,
                 alongside: int = 0):
        self.project, self.progress = project, progress
        self.jobs = [(rel, path, salt) for rel, path, _ in jobs]
        size = sum(size for _, _, size in jobs)
        workers = workers or os.cpu_count() or 1
        self.helpers = min(workers, len(jobs)) if workers > 1 and jobs and (
            len(jobs) > 1 and size >= PARALLEL_BYTES or alongside >= ALONGSIDE_BYTES) else 0
        self.pool = self.pending = None

    def __enter__(self) -> _Rendering:
        if self.helpers:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
            self.pool = ProcessPoolExecutor(
                self.helpers, multiprocessing.get_context(method), initializer=_start_worker,
                initargs=(self.project.source, self.project.media, self.project.root))
            # submitted now: map() queues every job before it returns
            self.pending = self.pool.map(_compile_job, self.jobs, chunksize=max(
                1, len(self.jobs) // (self.helpers * 32)))
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def results(self) -> Iterator[tuple[FileResult, bytes | None]]:
        if self.pending is not None:
            for done, blob in enumerate(self.pending, 1):
                yield pickle.loads(blob), blob
                self._done(done)
            return
        resolver = MediaResolver(self.project.source, self.project.media, self.project.root)
        for done, job in enumerate(self.jobs, 1):
            yield _read_and_compile(*job, resolver), None
            self._done(done)

    def _done(self, count: int) -> None:
        if self.progress is not None:
            self.progress(count, len(self.jobs))


def _package_digest(compiled: Compiled) -> str:
    """Everything the package's bytes depend on, this tool's own code included."""
    from generator import package

    h = hashlib.sha256(f"{package.FORMAT}\0{package.code_version()}\0{_code_version()}\0"
                       f"{compiled.id_base}\0{compiled.css}\0"
                       f"{sorted(compiled.notetype_mods.items())}\0".encode())
    for note in compiled.notes:
        h.update(f"{note.guid}\0{note.mod}\0{note.keys.content}\0{note.card.deck}\n".encode())
    for item in compiled.media:
        h.update(f"{item.name}\0".encode())
    return h.hexdigest()


def _cache(project: Project) -> FileCache:
    return FileCache(project.root / "build" / "cache", _cache_salt(project),
                     scope=f"{project.source}\0{project.media}")


def _cache_salt(project: Project) -> str:
    """Everything besides a file's own bytes that its rendered cards depend on: this
    program's own code and its libraries' versions too, so an upgrade is never served
    stale cards."""
    return "\0".join((RENDERER_VERSION, _code_version(), css(), str(project.source),
                      str(project.media), str(project.root)))


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    import importlib.util

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    for name in ("markdown_it", "mdit_py_plugins", "pygments", "yaml"):
        # an installed package's files change when it is upgraded (reading its version
        # from its metadata costs 25 ms on every build)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            stat = os.stat(spec.origin)
            h.update(f"{name}\0{spec.origin}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class _LockState:
    """The lock to build with, and this machine's memory of the last one it wrote."""

    lock: Lock
    project: str
    remembered: Lock | None  # None: no memory, or it says what the lock says
    mirrored: bool  # the memory is the lock as read (the usual case)
    diagnostics: tuple[Diagnostic, ...] = ()
    missing: bool = False  # no lock, though this machine built these sources with one
    checked: bool = True  # whether to compare the lock with the memory

    @property
    def emitted(self) -> dict[str, LockEntry] | None:
        """What this machine last packaged, when the lock says otherwise."""
        return None if self.remembered is None else {e.guid: e for e in
                                                     self.remembered.notes}

    def check(self, cards, now: int, assignment) -> list[Diagnostic]:
        """Stop before an older, missing or foreign lock gives identities away."""
        if self.missing:
            return [memory.missing(self.remembered)]
        if not self.checked:
            return []
        found = memory.foreign(self.lock, self.remembered, assignment)
        if found is None and self.remembered is not None:
            found = memory.lost(cards, self.lock, self.remembered, now, assignment)
        return [found] if found is not None else []


def _read_lock(project: Project, choice: LockChoice) -> _LockState:
    remembered_text = memory.recall(project.memory_path)
    text = None
    try:
        text = lockfile.read_text(project.lock_path)
        lock = None if text is None else lockfile.parse(text)
    except lockfile.LockError as error:
        if not (choice.reset or choice.restore):
            kept = ("; this machine kept a copy of the last lock it wrote: --restore-lock "
                    "takes it back" if memory.parse(remembered_text) is not None else "")
            return _LockState(Lock(), "", None, False, (Diagnostic(
                SourcePos(lockfile.LOCK_NAME, error.line, error.col), "E901",
                error.message + kept),), checked=False)
        lock = None
    # the usual case: the lock is what this machine last wrote, and that says it all
    same = lock is not None and text == remembered_text
    remembered = None if same else memory.parse(remembered_text)
    if choice.reset:  # new identities, but derived as before where a project value is known
        project_id = remembered.project if remembered is not None else lock.project if same \
            else ""
        return _LockState(Lock(project=project_id), project_id, remembered, False,
                          checked=False)
    found = ()
    if lock is not None and lock.reconciled:
        found = (Diagnostic(SourcePos(lockfile.LOCK_NAME, 1), "W905", lock.reconciled),)
    if choice.restore:
        if remembered is None and lock is not None:
            return _LockState(lock, lock.project, None, same, found, checked=False)
        if remembered is None:
            raise DeckError("there is no copy of a lock in 'build/' to restore: this machine "
                            "has not built these sources before; restore the lock from git")
        # another project's lock is put aside, not merged in
        keep = lock is not None and not memory.another_project(lock, remembered)
        merged = lockfile.merge(remembered, lock) if keep else lockfile.merge(remembered)
        return _LockState(merged, remembered.project, remembered, False,
                          found if keep else (), checked=False)
    if lock is None:
        missing = remembered is not None and any(not e.removed for e in remembered.notes)
        return _LockState(Lock(), remembered.project if remembered else "", remembered,
                          False, missing=missing and not choice.accept,
                          checked=False)
    return _LockState(lock, lock.project or (remembered.project if remembered else ""),
                      remembered, same, found, checked=not choice.accept)


def build_time() -> int:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(epoch) if epoch.isdigit() else int(time.time())


PACKAGE_NAME_CHARS = 100  # far below the 255 bytes of a file name, temporary names included


def default_output(project: Project, notes: tuple[Note, ...]) -> Path:
    import unicodedata

    tops = sorted({n.card.deck.split("::")[0] for n in notes})
    name = tops[0] if len(tops) == 1 else nfc(project.root.name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "deck"
    if len(slug) > PACKAGE_NAME_CHARS:  # a long title: a readable start, and its own hash
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug[: PACKAGE_NAME_CHARS - 9].rstrip('-')}-{digest}"
    return project.root / "build" / f"{slug}.apkg"


@_without_cycle_collector
def build(project: Project, now: int | None = None,
          progress: Callable[[int, int], None] | None = None,
          choice: LockChoice = LockChoice(), workers: int | None = None,
          use_cache: bool = True) -> tuple[Summary, Compiled]:
    """Build the package and update the lock; raises BuildFailed (nothing written) on errors."""
    started = time.perf_counter()
    cache = _cache(project)
    staging = cache.staging() if use_cache else None
    try:
        compiled = compile_project(project, build_time() if now is None else now, progress,
                                   choice, workers, use_cache, staging)
        if has_errors(compiled.diagnostics):
            raise BuildFailed(compiled.diagnostics, project.source)
        summary = _write(project, compiled, cache, started, use_cache)
    except BaseException:
        if staging is not None:
            staging.discard()
        raise
    if staging is not None:
        try:
            staging.commit()
        except KeyboardInterrupt:
            staging.discard()
            raise Interrupted(f"interrupted after writing '{_shown(Path(summary.output))}' and "
                              "the lock; only the cache of rendered cards was not updated"
                              ) from None
    return summary, compiled


def _write(project: Project, compiled: Compiled, cache: FileCache, started: float,
           use_cache: bool) -> Summary:
    """The package, then the lock."""
    from generator import package

    output = project.output or default_output(project, compiled.notes)
    digest = _package_digest(compiled)
    _refuse_read_only_lock(project, compiled)
    try:
        # unchanged sources, untouched package: its bytes would be the same, skip the write
        if not cache.same_output(output, digest):
            output.parent.mkdir(parents=True, exist_ok=True)
            package.write(output, compiled.notes, compiled.media,
                          _layout(compiled, cache if use_cache else None), compiled.id_base,
                          meanwhile=lambda: compiled.lock_text)
    except OSError as error:  # named by its target: the temporary file is ours, not theirs
        raise DeckError(f"cannot write '{_shown(output)}': "
                        f"{_not_a_folder(output) or error.strerror or error}") from None
    except package.MediaChanged as error:
        cache.forget()  # the cards showing it are rendered anew next time
        raise DeckError(f"'{_shown(Path(error.item.source))}' changed while the package was "
                        "being written; nothing was written, run 'deck build' again") from None
    try:
        changed = _read_text(project.lock_path) != compiled.lock_text
        if changed:
            lockfile.write_atomic(project.lock_path, compiled.lock_text)
    except OSError as error:
        raise DeckError(f"wrote '{_shown(output)}' but cannot update the lock "
                        f"'{_shown(project.lock_path)}': {error.strerror or error}; the old "
                        "lock is intact, run 'deck build' again") from None
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after writing '{_shown(output)}' and before updating "
                          f"the lock '{_shown(project.lock_path)}' (the old one is intact); "
                          "run 'deck build' again") from None
    if changed or not compiled.mirrored:
        memory.remember(project.memory_path, compiled.lock_text)
    cache.record_output(output, digest)
    package.sweep(output)
    notes = compiled.notes
    summary = Summary(
        decks=len({n.card.deck for n in notes}),
        new=sum(n.status == "new" for n in notes),
        changed=sum(n.status == "changed" for n in notes),
        unchanged=sum(n.status == "unchanged" for n in notes),
        removed=compiled.removed,
        reworded=tuple(n for n in notes if n.renamed_from is not None),
        media=len(compiled.media), output=str(output),
        seconds=time.perf_counter() - started,
        pending=tuple(step.action for step in compiled.steps))
    return summary


def _refuse_read_only_lock(project: Project, compiled: Compiled) -> None:
    """A lock made read-only (`chmod a-w`) is never replaced: a build that would change it
    stops before writing anything (one that leaves it as it is goes on)."""
    try:
        mode = project.lock_path.stat().st_mode
    except OSError:
        return
    if not mode & 0o200 and _read_text(project.lock_path) != compiled.lock_text:
        lock = _shown(project.lock_path)
        raise DeckError(f"the lock '{lock}' is read-only and this build would change it; "
                        f"nothing was written: make it writable ('chmod u+w {lock}') to let "
                        "the build record the cards' identities")


def _not_a_folder(output: Path) -> str | None:
    """What stands where the package's folder should be, if anything does."""
    for path in output.parents:
        if path.is_dir():
            return None
        if path.is_symlink():
            return (f"'{_shown(path)}' is a symbolic link to something that is not a "
                    "folder; remove the link, or make it point to a folder")
        if path.exists():
            return f"'{_shown(path)}' is a file, not a folder; move it away"
    return None


def _layout(compiled: Compiled, cache: FileCache | None):
    """The collection's layout, from the cache when its inputs are unchanged."""
    from generator import package

    decks = tuple(package.all_decks({n.card.deck for n in compiled.notes}))
    key = package.layout_key(decks, compiled.css, compiled.notetype_mods, compiled.id_base,
                             _code_version())
    layout = cache.value("layout", key) if cache is not None else None
    if not isinstance(layout, package.Layout):
        layout = package.layout(decks, compiled.css, compiled.notetype_mods, compiled.id_base)
        if cache is not None:
            cache.keep_value("layout", key, layout)
    return layout


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Preview:
    index: Path
    cards: int
    sides: int
    media: int
    diagnostics: tuple[Diagnostic, ...]


def write_preview(project: Project, folder: Path | None = None, live: bool = False,
                  now: int | None = None, compiled: Compiled | None = None) -> Preview:
    """The preview page of the sources as they are, findings included (it never refuses);
    `compiled` saves compiling again right after a build."""
    from generator import preview

    if compiled is None:
        compiled = compile_project(project, build_time() if now is None else now)
    folder = folder or project.root / "build" / "preview"
    tops = sorted({n.card.deck.split("::")[0] for n in compiled.notes})
    title = tops[0] if len(tops) == 1 else project.root.name
    text, sides, warnings = preview.page(compiled.notes, compiled.diagnostics, compiled.css,
                                         project.source, title, live=live)
    try:
        index = preview.write(folder, text, compiled.media)
    except OSError as error:
        raise DeckError(f"cannot write the preview in '{_shown(folder)}': "
                        f"{error.strerror or error}") from None
    return Preview(index=index, cards=len(compiled.notes), sides=sides,
                   media=len(compiled.media),
                   diagnostics=tuple(sorted(compiled.diagnostics + tuple(warnings))))
