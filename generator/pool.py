"""Source files to rendered, checked cards: one file is the unit of work and of caching,
rendered here or by helper processes when there is enough of it to pay for starting them.

Helpers are started with `fork` only where that is safe: never on macOS (its system
libraries are not fork-safe) nor in a process running other threads (`deck watch`: a
lock one of them holds would stay locked in the child for good); there, `forkserver` or
`spawn`. When helpers cannot start (no semaphores in a sandbox, too many open files) or
one dies, the files not yet rendered are rendered here.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from generator import speedups
from generator.cache import Cache, FileResult, pickled
from generator.check import check_card
from generator.diagnostics import Diagnostic
from generator.discover import read_source
from generator.identity import card_keys
from generator.media import MediaResolver
from generator.model import RenderedCard, SourcePos

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger("deck.pool")

PARALLEL_BYTES = 256 * 1024  # below this, starting processes costs more than it saves
# A helper for a single file pays off only when this process has about as long meanwhile
# (loading this many bytes of cached files) as the helper takes to start and render.
ALONGSIDE_BYTES = 4 * 1024 * 1024

Job = tuple[str, str, int]  # the file's path relative to the source folder, on disk, size
Progress = Callable[[int, int], None]


def compile_file(key: str, rel: str, text: str, resolver: MediaResolver) -> FileResult:
    """Parse, render and check one source file."""
    from generator.render import render_file  # markdown-it and Pygments: only when needed

    consulted = resolver.track()
    rendered, diagnostics = render_file(rel, text, resolver)
    cards = []
    for result in rendered:
        diagnostics += check_card(result)
        cards.append(RenderedCard(result.card, result.fields, result.media, result.raw_html,
                                  card_keys(result)))
    if not cards and not diagnostics:
        diagnostics.append(Diagnostic(SourcePos(rel, 1), "W108", "no cards in this file; "
                                      "a card starts at a '## ' heading"))
    return FileResult(key, rel, tuple(cards), tuple(diagnostics), tuple(consulted.items()))


def _read_and_compile(rel: str, path: str, salt: bytes, resolver: MediaResolver) -> FileResult:
    text, found = read_source(rel, Path(path))
    if text is None:  # changed since it was first read, and now unreadable
        return FileResult("", rel, (), tuple(found))
    # keyed by what was read here, in case the file changed since
    return compile_file(Cache.key_for(salt, rel, text) if salt else "", rel, text, resolver)


_worker_resolver: MediaResolver | None = None


def _start_worker(source: Path, media: Path, root: Path) -> None:
    global _worker_resolver
    speedups.pause_collector()  # a forked helper inherits the pause; a spawned one does not
    _worker_resolver = MediaResolver(source, media, root)


def _compile_job(job: tuple[str, str, bytes]) -> bytes:
    # pickled here, in parallel, rather than by the pool: these bytes also go to the cache
    assert _worker_resolver is not None
    return pickled(_read_and_compile(*job, _worker_resolver))


def start_method() -> str | None:
    """`fork` where it is safe (see the module's note), else the safest one available."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform != "darwin" and _threads() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _threads() -> int:
    """The threads of this process, native ones too (watchfiles watches from a Rust thread
    that Python's `threading` does not know)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc: Python's own threads are all that can be counted
        return threading.active_count()


class Rendering:
    """Renders `jobs` from the moment it is entered: in helper processes when the work is
    big enough, or when this process has as much to do meanwhile (`alongside`: bytes of
    cached files to load); otherwise here, in `results`. Results come in the order of
    `jobs`, whatever the number of processes, with their pickle when a helper made one."""

    def __init__(self, folders: tuple[Path, Path, Path], jobs: Sequence[Job],
                 workers: int | None, progress: Progress | None, salt: bytes,
                 alongside: int = 0):
        self.folders, self.progress = folders, progress
        self.jobs = [(rel, path, salt) for rel, path, _ in jobs]
        size = sum(size for _, _, size in jobs)
        workers = workers or os.cpu_count() or 1
        self.helpers = min(workers, len(jobs)) if workers > 1 and jobs and (
            len(jobs) > 1 and size >= PARALLEL_BYTES or alongside >= ALONGSIDE_BYTES) else 0
        self.pool: ProcessPoolExecutor | None = None
        self.pending: Iterator[bytes] | None = None

    def __enter__(self) -> Rendering:
        if self.helpers:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                self.pool = ProcessPoolExecutor(
                    self.helpers, multiprocessing.get_context(start_method()),
                    initializer=_start_worker, initargs=self.folders)
                # submitted now: map() queues every job before it returns
                self.pending = self.pool.map(_compile_job, self.jobs, chunksize=max(
                    1, len(self.jobs) // (self.helpers * 32)))
            except (OSError, ImportError, NotImplementedError) as error:
                log.debug("pool: helpers cannot start (%s); rendering here", error)
                self.__exit__()
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self.pending = None

    def results(self) -> Iterator[tuple[FileResult, bytes | None]]:
        done = 0
        if self.pending is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                for blob in self.pending:
                    done += 1
                    yield pickle.loads(blob), blob
                    self._done(done)
                return
            except (BrokenProcessPool, OSError) as error:
                log.debug("pool: a helper stopped (%s); rendering the rest here", error)
        resolver = MediaResolver(*self.folders)
        for job in self.jobs[done:]:
            done += 1
            yield _read_and_compile(*job, resolver), None
            self._done(done)

    def _done(self, count: int) -> None:
        if self.progress is not None:
            self.progress(count, len(self.jobs))
