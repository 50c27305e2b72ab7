"""The speed tricks that change no output, each behind one seam with its measured benefit
and one switch to turn it off: `DECK_WITHOUT=collector,exit,lexer` (or `all`), for the
benchmark to measure each one and for a bug report to rule them out. Here: pausing the
cycle collector, and the exit without teardown. Elsewhere: the quick lexer (`quicklex.py`,
`lexer`), the cache (`cache.py`, `--no-cache`) and helper processes (`pool.py`, `--jobs
1`).

Measured with `benchmarks/run.py --without ...` (10,000 cards, 2 cores):
- collector: a build holds about a million small acyclic objects that reference
  counting frees; the cycle collector would scan them over and over. Paused: a clean
  build 9 % faster, a rebuild 13 %.
- exit: the interpreter's teardown frees those objects one by one. Skipped (once
  everything is written and flushed): a clean build 6 % faster, a rebuild 8 %.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from contextlib import contextmanager
from typing import Iterator

# a process this big pays for its teardown: at 10,000 cards, 0.1 s of a 0.7 s rebuild;
# a small one exits as every Python program does
BIG_PROCESS_BLOCKS = 500_000


@functools.lru_cache(maxsize=None)
def enabled(name: str) -> bool:
    turned_off = {part.strip() for part in os.environ.get("DECK_WITHOUT", "").split(",")}
    return name not in turned_off and "all" not in turned_off


def pause_collector() -> None:
    """For the rest of this process (a one-shot command, or a helper that renders)."""
    if enabled("collector"):
        gc.disable()


@contextmanager
def collector_paused() -> Iterator[None]:
    """For one build, in a process that goes on afterwards (`deck watch`, tests)."""
    was_enabled = gc.isenabled()
    if enabled("collector"):
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def exit_process(code: int) -> None:
    """End a one-shot command: the streams flushed, then, for a big process, without the
    interpreter's teardown; never under a profiler or a tracer (they write their report at
    exit), nor with exit handlers this module does not know (they would not run)."""
    import logging

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the descriptor was closed (`deck check >&-`)
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`deck check | head`)
            pass
    logging.shutdown()  # the one known handler that has anything to flush
    if (enabled("exit") and sys.getallocatedblocks() > BIG_PROCESS_BLOCKS
            and sys.getprofile() is None and sys.gettrace() is None
            and _exit_handlers() <= _known_handlers()):
        os._exit(code)
    sys.exit(code)


def _exit_handlers() -> int:
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    return count() if count is not None else sys.maxsize  # cannot tell: the normal exit


def _known_handlers() -> int:
    """Exit handlers registered by modules a build imports, and why skipping them is safe:
    logging's flushes its handlers (done above); multiprocessing's reaps helper processes
    (a build shuts its pool down before it returns)."""
    known = int("logging" in sys.modules)
    if "multiprocessing.util" in sys.modules:
        import multiprocessing

        if multiprocessing.active_children():
            return -1
        known += 1
    return known
