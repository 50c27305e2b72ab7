"""The speed tricks that change no output, each behind one seam with its measured benefit
and one switch to turn it off: `DECK_WITHOUT=collector,exit,lexer` (or `all`), for the
benchmark to measure each one and for a bug report to rule them out. Here: pausing the
cycle collector, and the exit without teardown. Elsewhere: the quick lexer (`quicklex.py`,
`lexer`), the cache (`cache.py`, `--no-cache`) and helper processes (`pool.py`, `--jobs
1`).

Measured side by side (10 alternating runs each, 2 cores, a busy machine):
- exit: the teardown frees every module a command imported (markdown-it, Pygments,
  genanki); a build's own values are freed by then, when its function returns. Skipped:
  `deck --help` 0.075 s instead of 0.091, `deck check` of the seed deck 0.168 s instead of
  0.202, a no-op rebuild of 500 cards 0.134 s instead of 0.155; at 10,000 cards within
  noise (0.52 s either way; compare.py: 1.01x clean, 1.02x no-op, 1.12x one edit).
- collector: a build makes about a million small acyclic values that reference counting
  frees; the collector would scan them over and over. `benchmarks/compare.py --without
  collector`, 10,000 cards, 9 alternating runs: without the pause a no-op rebuild takes
  1.10x, a rebuild after one edit 1.05x, a clean build 0.99x (its rendering happens in
  helper processes, whose values are few at a time: within noise).
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from contextlib import contextmanager
from typing import Iterator

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
    """End a one-shot command: the streams flushed, then without the interpreter's teardown
    (freeing every module: markdown-it's, Pygments', genanki's); never under a profiler or
    a tracer (they write their report at exit), nor with exit handlers this module does not
    know (they would not run)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the descriptor was closed (`deck check >&-`)
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`deck check | head`)
            pass
    if "logging" in sys.modules:  # (`deck --help` never imports it: not here either)
        sys.modules["logging"].shutdown()  # the one known handler with anything to flush
    if (enabled("exit") and not _observed()
            and _exit_handlers() <= _known_handlers()):
        os._exit(code)
    sys.exit(code)


def _observed() -> bool:
    """Whether a profiler, tracer or coverage tool watches this process (from Python 3.12,
    cProfile and coverage use `sys.monitoring`, not `sys.setprofile`)."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) for tool in range(6))


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
