"""Runs the stages: discover → parse → render → identify → package. All data is gathered
and checked first; nothing is written while any error remains."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from generator import lock as lockfile
from generator.diagnostics import BuildFailed, DeckError, Diagnostic, has_errors
from generator.media import MediaResolver
from generator.model import Lock, LockEntry, MediaFile, Note, SourcePos, Summary
from generator.notetypes import BY_KIND, css
from generator.parse import parse_file
from generator.render import render_card


@dataclass(frozen=True)
class Project:
    root: Path
    source: Path
    media: Path
    output: Path | None  # None: build/<name>.apkg

    @property
    def lock_path(self) -> Path:
        return self.source / lockfile.LOCK_NAME


def load_project(source: str | None = None, media: str | None = None,
                 output: str | None = None, cwd: Path | None = None) -> Project:
    cwd = (cwd or Path.cwd()).resolve()
    source_dir = (cwd / (source or "source")).resolve()
    if not source_dir.is_dir():
        raise DeckError(f"source folder '{source or 'source'}' not found; run in a project "
                        "with a 'source/' folder or pass --source DIR")
    root = cwd if source_dir == cwd or cwd in source_dir.parents else source_dir.parent
    return Project(root=root, source=source_dir, media=(cwd / (media or "media")).resolve(),
                   output=(cwd / output).resolve() if output else None)


@dataclass(frozen=True)
class Compiled:
    """Everything a build would write, decided without writing anything."""

    notes: tuple[Note, ...]
    removed: tuple[LockEntry, ...]
    media: tuple[MediaFile, ...]
    diagnostics: tuple[Diagnostic, ...]
    lock_text: str
    notetype_mods: dict[int, int]
    id_base: int
    css: str


def read_sources(project: Project) -> tuple[list[tuple[str, str]], list[Diagnostic]]:
    """Sorted (relative path, text) of every Markdown file under the source folder."""
    found, diagnostics = [], []
    for path in sorted(_markdown_files(project.source)):
        rel = path.relative_to(project.source).as_posix()
        try:
            data = path.read_bytes()
        except OSError as error:
            diagnostics.append(Diagnostic(SourcePos(rel, 1), "E501",
                                          f"cannot read the file: {error.strerror or error}"))
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            col = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
            diagnostics.append(Diagnostic(SourcePos(rel, line, col), "E501",
                                          "not valid UTF-8; save the file as UTF-8"))
            continue
        found.append((rel, text.replace("\r\n", "\n").replace("\r", "\n")))
    return found, diagnostics


def _markdown_files(folder: Path):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.endswith(".md") and not name.startswith("."):
                yield Path(dirpath) / name


def compile_project(project: Project, now: int,
                    progress: Callable[[int, int], None] | None = None,
                    reset_lock: bool = False) -> Compiled:
    sources, diagnostics = read_sources(project)
    cards = []
    for rel, text in sources:
        parsed, found = parse_file(rel, text)
        cards += parsed
        diagnostics += found
    resolver = MediaResolver(project.source, project.media, project.root)
    rendered = []
    for done, card in enumerate(cards, 1):
        result, found = render_card(card, resolver)
        rendered.append((result, BY_KIND[card.kind].name))
        diagnostics += found
        if progress is not None:
            progress(done, len(cards))
    lock = Lock() if reset_lock else lockfile.read(project.lock_path)
    notes, removed, found = lockfile.assign(rendered, lock, now)
    diagnostics += found
    if not sources and not diagnostics:
        diagnostics.append(Diagnostic(SourcePos(".", 0), "E101",
                                      f"no Markdown files in '{project.source}'"))
    style = css()
    hashes = {nt.id: nt.fingerprint(style) for nt in BY_KIND.values()}
    mods = lockfile.notetype_mods(lock, hashes, now)
    id_base = lock.id_base or now * 1000
    media = {m.name: m for n in notes for m in n.rendered.media}
    return Compiled(notes=notes, removed=removed,
                    media=tuple(media[k] for k in sorted(media)),
                    diagnostics=tuple(sorted(diagnostics)),
                    lock_text=lockfile.render_lock(notes, id_base, hashes, mods),
                    notetype_mods=mods, id_base=id_base, css=style)


def build_time() -> int:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(epoch) if epoch.isdigit() else int(time.time())


def default_output(project: Project, notes: tuple[Note, ...]) -> Path:
    tops = sorted({n.card.deck.split("::")[0] for n in notes})
    name = tops[0] if len(tops) == 1 else project.root.name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "deck"
    return project.root / "build" / f"{slug}.apkg"


def build(project: Project, now: int | None = None,
          progress: Callable[[int, int], None] | None = None,
          reset_lock: bool = False) -> tuple[Summary, Compiled]:
    """Build the package and update the lock; raises BuildFailed (nothing written) on errors."""
    from generator import package

    started = time.perf_counter()
    compiled = compile_project(project, build_time() if now is None else now, progress,
                               reset_lock)
    if has_errors(compiled.diagnostics):
        raise BuildFailed(compiled.diagnostics)
    output = project.output or default_output(project, compiled.notes)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        package.write(output, compiled.notes, compiled.media, compiled.css,
                      compiled.notetype_mods, compiled.id_base)
        if _read_text(project.lock_path) != compiled.lock_text:
            lockfile.write_atomic(project.lock_path, compiled.lock_text)
    except OSError as error:
        raise DeckError(f"cannot write '{error.filename or output}': "
                        f"{error.strerror or error}") from None
    notes = compiled.notes
    summary = Summary(
        decks=len({n.card.deck for n in notes}),
        new=sum(n.status == "new" for n in notes),
        changed=sum(n.status == "changed" for n in notes),
        unchanged=sum(n.status == "unchanged" for n in notes),
        removed=compiled.removed,
        moved=tuple((n, n.previous.deck) for n in notes
                    if n.previous is not None and n.previous.deck != n.card.deck),
        reworded=tuple(n for n in notes if n.renamed_from is not None),
        media=len(compiled.media), output=str(output),
        seconds=time.perf_counter() - started)
    return summary, compiled


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
