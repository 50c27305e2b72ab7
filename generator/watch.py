"""`deck watch`: rebuild the package and the preview whenever a source or media file changes.

The watcher never dies on bad input: a broken save reports its findings and keeps the last
good package (a build writes nothing while errors remain).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from generator import build
from generator.diagnostics import BuildFailed, DeckError, Diagnostic
from generator.model import Summary

DEBOUNCE_MS = 300


@dataclass(frozen=True)
class Outcome:
    """What one rebuild did: a summary line's data, or the findings that stopped it."""

    summary: Summary | None  # when the package was written
    diagnostics: tuple[Diagnostic, ...]
    error: str | None = None
    preview: Path | None = None


def rebuild(project: build.Project, preview_dir: Path | None, workers: int | None = None,
            use_cache: bool = True) -> Outcome:
    summary, error, compiled = None, None, None
    diagnostics: tuple[Diagnostic, ...] = ()
    try:
        summary, compiled = build.build(project, workers=workers, use_cache=use_cache)
        diagnostics = compiled.diagnostics
    except BuildFailed as failure:
        diagnostics = failure.diagnostics
    except DeckError as failure:
        error = str(failure)
    except Exception as failure:  # a bug of ours must not stop the watcher
        error = f"internal error: {type(failure).__name__}: {failure}"
    index = None
    try:
        result = build.write_preview(project, preview_dir, live=True, compiled=compiled,
                                     workers=workers, use_cache=use_cache)
        index = result.index
        from generator import preview

        version = hashlib.sha256(index.read_bytes()).hexdigest()[:16]
        preview.write_version(index.parent, version)
    except DeckError as failure:
        error = error or str(failure)
    except Exception as failure:
        error = error or f"internal error: {type(failure).__name__}: {failure}"
    return Outcome(summary, tuple(diagnostics), error, index)


def _relevant(project: build.Project):
    source, media = project.source, project.media

    def keep(_change, path: str) -> bool:
        p = Path(path)
        if p.name.startswith(".") or p.name.endswith("~"):
            return False  # our own temporary files, editors' swap and backup files
        if p == project.lock_path:
            return False  # written by the build itself
        return source in p.parents or media in p.parents  # images may sit beside the text

    return keep


def run(project: build.Project, preview_dir: Path | None = None,
        stop: threading.Event | None = None, workers: int | None = None,
        use_cache: bool = True) -> Iterator[Outcome]:
    """Build once, then once per debounced batch of changes, until `stop` is set."""
    from watchfiles import watch

    paths = [p for p in (project.source, project.media) if p.is_dir()]
    first = True
    # the first (empty) yield comes once the watcher runs: a save during the first build
    # is then seen, not lost
    for changes in watch(*paths, watch_filter=_relevant(project), debounce=DEBOUNCE_MS,
                         stop_event=stop, raise_interrupt=True, yield_on_timeout=True,
                         rust_timeout=200):
        if first or changes:
            first = False
            yield rebuild(project, preview_dir, workers, use_cache)
