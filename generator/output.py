"""What a build writes once it has decided everything: the package, then the lock, then
this machine's memory of it; the cache of rendered cards last (it only saves time). And
the preview page. Each write names what was already written when it fails."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from generator import lock as lockfile
from generator import memory
from generator.cache import Cache, Staging, output_digest
from generator.diagnostics import DeckError, Diagnostic, Interrupted
from generator.model import Compiled, Status, Summary
from generator.project import Project, default_output, shown


def clock() -> float:
    return time.perf_counter()


def write(project: Project, compiled: Compiled, cache: Cache, started: float) -> Summary:
    """The package, then the lock (a lock that names notes no package holds would be worse
    than a package the lock does not describe yet)."""
    from generator import package

    target = project.output or default_output(project, compiled.notes)
    digest = output_digest(compiled.notes, compiled.media, compiled.id_base, compiled.css,
                           compiled.notetype_mods, compiled.kept)
    _refuse_read_only_lock(project, compiled)
    try:
        # unchanged sources, untouched package: its bytes would be the same, skip the write
        if not cache.same_output(target, digest):
            target.parent.mkdir(parents=True, exist_ok=True)
            package.write(target, compiled.notes, compiled.media, _layout(compiled, cache),
                          compiled.id_base, meanwhile=lambda: compiled.lock_text,
                          kept=compiled.kept)
    except OSError as error:  # named by its target: the temporary file is ours, not theirs
        raise DeckError(f"cannot write '{shown(target)}': "
                        f"{_not_a_folder(target) or error.strerror or error}") from None
    except package.MediaChanged as error:
        cache.forget()  # the cards showing it are rendered anew next time
        raise DeckError(f"'{shown(Path(error.item.source))}' changed while the package was "
                        "being written; nothing was written, run 'deck build' again") from None
    try:
        changed = _read_text(project.lock_path) != compiled.lock_text
        if changed:
            lockfile.write_atomic(project.lock_path, compiled.lock_text)
    except OSError as error:
        raise DeckError(f"wrote '{shown(target)}' but cannot update the lock "
                        f"'{shown(project.lock_path)}': {error.strerror or error}; the old "
                        "lock is intact, run 'deck build' again") from None
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after writing '{shown(target)}' and before updating "
                          f"the lock '{shown(project.lock_path)}' (the old one is intact); "
                          "run 'deck build' again") from None
    if changed or not compiled.mirrored:
        memory.remember(project.memory_path, compiled.lock_text)
    cache.record_output(target, digest)
    package.sweep(target)
    return _summary(compiled, target, started)


def keep_rendered(staging: Staging | None, summary: Summary) -> None:
    """Moves the files rendered anew into the cache, once everything else is written."""
    if staging is None:
        return
    try:
        staging.commit()
    except KeyboardInterrupt:
        staging.discard()
        raise Interrupted(f"interrupted after writing '{shown(Path(summary.output))}' and "
                          "the lock; only the cache of rendered cards was not updated"
                          ) from None


def _summary(compiled: Compiled, target: Path, started: float) -> Summary:
    notes = compiled.notes
    return Summary(
        decks=len({n.card.deck for n in notes}),
        new=sum(n.status is Status.NEW for n in notes),
        changed=sum(n.status is Status.CHANGED for n in notes),
        unchanged=sum(n.status is Status.UNCHANGED for n in notes),
        removed=compiled.removed,
        reworded=tuple(n for n in notes if n.renamed_from is not None),
        media=len(compiled.media), output=str(target),
        seconds=clock() - started,
        pending=tuple(step.action for step in compiled.steps))


def _layout(compiled: Compiled, cache: Cache):
    """The collection's layout, from the cache when its inputs are unchanged (genanki is
    then not imported: a sixth of a small rebuild's time)."""
    from generator import package

    decks = tuple(package.all_decks({n.card.deck for n in compiled.notes}))
    inputs = (decks, compiled.css, sorted(compiled.notetype_mods.items()), compiled.id_base,
              compiled.kept)
    return cache.value("layout", inputs, lambda: package.layout(
        decks, compiled.css, compiled.notetype_mods, compiled.id_base, compiled.kept),
        package.Layout)


def _refuse_read_only_lock(project: Project, compiled: Compiled) -> None:
    """A lock made read-only (`chmod a-w`) is never replaced: a build that would change it
    stops before writing anything (one that leaves it as it is goes on)."""
    try:
        mode = project.lock_path.stat().st_mode
    except OSError:
        return
    if not mode & 0o200 and _read_text(project.lock_path) != compiled.lock_text:
        lock = shown(project.lock_path)
        raise DeckError(f"the lock '{lock}' is read-only and this build would change it; "
                        f"nothing was written: make it writable ('chmod u+w {lock}') to let "
                        "the build record the cards' identities")


def _not_a_folder(target: Path) -> str | None:
    """What stands where the package's folder should be, if anything does."""
    for path in target.parents:
        if path.is_dir():
            return None
        if path.is_symlink():
            return (f"'{shown(path)}' is a symbolic link to something that is not a "
                    "folder; remove the link, or make it point to a folder")
        if path.exists():
            return f"'{shown(path)}' is a file, not a folder; move it away"
    return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Preview:
    """What `deck preview` wrote."""

    index: Path
    cards: int
    sides: int
    media: int
    diagnostics: tuple[Diagnostic, ...]


def preview(project: Project, compiled: Compiled, folder: Path | None,
            live: bool) -> Preview:
    from generator import preview as page

    folder = folder or project.build_dir / "preview"
    tops = sorted({n.card.deck.split("::")[0] for n in compiled.notes})
    title = tops[0] if len(tops) == 1 else project.root.name
    text, sides, warnings = page.page(compiled.notes, compiled.diagnostics, compiled.css,
                                      project.source, title, live=live)
    try:
        index = page.write(folder, text, compiled.media)
    except OSError as error:
        raise DeckError(f"cannot write the preview in '{shown(folder)}': "
                        f"{error.strerror or error}") from None
    return Preview(index=index, cards=len(compiled.notes), sides=sides,
                   media=len(compiled.media),
                   diagnostics=tuple(sorted(compiled.diagnostics + tuple(warnings))))
