"""The pipeline: discover → read → render (here or in helpers, from the cache when it can)
→ identify → check the whole project → package. Everything is decided first; nothing is
written while any error remains (`output.py` writes).

A stage is a function of values; what flows between them:

    files (rel, path)  →  FileResult per file (cards + findings)  →  Assignment (notes
    with GUIDs and times, the lock's rows)  →  Compiled  →  package, lock, memory, Summary
"""

from __future__ import annotations

from generator import lock as lockfile
from generator import kept, pending, speedups
from generator.cache import Cache, FileResult, Staging
from generator.check import check_project
from generator.diagnostics import BuildFailed, Diagnostic, Severity, has_errors
from generator.discover import read_source, source_files
from generator.identity import assign
from generator.memory import LockChoice, LockState, read_lock
from generator.model import Compiled, RenderedCard, Summary, nfc
from generator.notetypes import BY_KIND, css
from generator.pool import Job, Progress, Rendering
from generator.project import Project, build_time, load_project

__all__ = ["Compiled", "LockChoice", "Project", "build", "build_time", "compile_project",
           "load_project", "write_preview"]


def compile_project(project: Project, now: int, progress: Progress | None = None,
                    choice: LockChoice = LockChoice(), workers: int | None = None,
                    use_cache: bool = True, staging: Staging | None = None,
                    cache: Cache | None = None) -> Compiled:
    """`staging` receives the files rendered anew, to be cached if the build succeeds."""
    with speedups.collector_paused():
        files, diagnostics = source_files(project.source)
        cache = cache or _cache(project, use_cache)
        jobs, stored, unread, found = _read(files, cache)
        results, fresh, state = _render(project, jobs, stored, cache, staging, workers,
                                        progress, choice)
        cards: list[RenderedCard] = []
        for rel, _ in files:
            if rel in results:
                cards += results[rel].cards
                found += results[rel].diagnostics
        assignment = assign(cards, state.lock, now, project=state.project,
                            emitted=state.emitted)
        stale = state.check(cards, now, assignment)
        diagnostics += [*found, *state.diagnostics, *assignment.diagnostics, *stale]
        # a file that could not be read, or holds a broken card, has not lost its cards
        errors = {d.pos.path for d in diagnostics if d.severity is Severity.ERROR}
        broken = {nfc(p) for p in unread | errors}
        removed = tuple(e for e in assignment.removed if e.file not in broken)
        if not stale:  # what changed since a lock that is not this project's latest is moot
            diagnostics += pending.findings(assignment.notes, removed, assignment.retyped,
                                            broken)
        style = css()
        hashes = {nt.id: nt.fingerprint(style) for nt in BY_KIND.values()}
        shapes = {nt.id: nt.shape_hash() for nt in BY_KIND.values()}
        diagnostics += check_project(assignment.notes, project.source, diagnostics,
                                     lockfile.changed_shapes(state.lock, shapes))
        media = {m.name: m for n in assignment.notes for m in n.rendered.media}
        return Compiled(notes=assignment.notes, removed=removed,
                        media=tuple(media[k] for k in sorted(media)),
                        diagnostics=tuple(sorted(diagnostics)), rows=assignment.rows,
                        project=assignment.project, hashes=hashes, shapes=shapes,
                        fresh=tuple(fresh),
                        notetype_mods=lockfile.notetype_mods(state.lock, hashes, now),
                        id_base=state.lock.id_base or now * 1000, css=style,
                        mirrored=state.mirrored, read=state.lock,
                        kept=kept.types_now(state.lock.kept, assignment.rows))


def _cache(project: Project, enabled: bool = True) -> Cache:
    return Cache(project.build_dir, project.source, project.media, enabled)


def _read(files, cache: Cache):
    """Each file read once: to be rendered (a job), or served from the cache."""
    diagnostics: list[Diagnostic] = []
    jobs: list[Job] = []
    stored: list[tuple[Job, str]] = []
    unread: set[str] = set()
    for rel, path in files:
        text, found = read_source(rel, path)
        diagnostics += found
        if text is None:
            unread.add(rel)
            continue
        # helpers read the file again: the texts of 100,000 cards stay out of memory
        job = (rel, str(path), len(text))
        key = cache.key(rel, text)
        if cache.holds(key):
            stored.append((job, key))
        else:
            cache.missed(rel)
            jobs.append(job)
    return jobs, stored, unread, diagnostics


def _render(project: Project, jobs: list[Job], stored, cache: Cache, staging: Staging | None,
            workers: int | None, progress: Progress | None,
            choice: LockChoice) -> tuple[dict[str, FileResult], list[FileResult], LockState]:
    """The files to render, rendered (by helpers while this process loads the cache and
    reads the lock); those the cache refused, rendered after them."""
    folders = (project.source, project.media, project.root)
    salt = cache.salt if cache.enabled else b""
    results: dict[str, FileResult] = {}
    fresh: list[FileResult] = []

    def take(rendering: Rendering) -> None:
        for result, blob in rendering.results():  # staged as they come: pickles add up
            fresh.append(result)
            results[result.path] = result
            if staging is not None:
                staging.add(result, blob)

    refused: list[Job] = []
    with Rendering(folders, jobs, workers, progress, salt,
                   alongside=sum(job[2] for job, _ in stored)) as rendering:
        for job, key in stored:
            cached = cache.get(key, job[0])
            if cached is None:
                refused.append(job)
            else:
                results[job[0]] = cached
        state = read_lock(project.lock_path, project.memory_path, choice)
        take(rendering)
    with Rendering(folders, refused, workers, progress, salt) as rendering:
        take(rendering)
    return results, fresh, state


def build(project: Project, now: int | None = None, progress: Progress | None = None,
          choice: LockChoice = LockChoice(), workers: int | None = None,
          use_cache: bool = True) -> tuple[Summary, Compiled]:
    """Build the package and update the lock; raises BuildFailed (nothing written) on errors."""
    from generator import output

    with speedups.collector_paused():
        started = output.clock()
        cache = _cache(project, use_cache)
        staging = cache.staging()
        try:
            compiled = compile_project(project, build_time() if now is None else now,
                                       progress, choice, workers, use_cache, staging, cache)
            if has_errors(compiled.diagnostics):
                raise BuildFailed(compiled.diagnostics, project.source)
            summary = output.write(project, compiled, cache, started)
        except BaseException:
            if staging is not None:
                staging.discard()
            raise
        output.keep_rendered(staging, summary)
        return summary, compiled


def write_preview(project: Project, folder=None, live: bool = False, now: int | None = None,
                  compiled: Compiled | None = None, workers: int | None = None,
                  use_cache: bool = True):
    """The preview page of the sources as they are, findings included (it never refuses);
    `compiled` saves compiling again right after a build."""
    from generator import output

    if compiled is None:
        compiled = compile_project(project, build_time() if now is None else now,
                                   workers=workers, use_cache=use_cache)
    return output.preview(project, compiled, folder, live)

