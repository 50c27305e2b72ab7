"""`deck adopt`: cards the user already has in Anki, taken over by the Markdown with every
review kept. Reading the notes and writing their Markdown is `adopt.py`'s; this module
writes what a build then needs: the sources, the media they show, and lock rows that give
each card its note's own GUID, note type and modification time, so that the first build
after adopting packages exactly what the collection has (Anki updates nothing, nothing
syncs) and an edit in Markdown updates the note in place.

Adopting reads the collection and changes nothing in it.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from generator import adopt, adopt_sources, atomic, memory
from generator import kept as keptmod
from generator import lock as lockfile
from generator.diagnostics import BuildFailed, DeckError, has_errors
from generator.model import KeptType, LockEntry, nfc
from generator.project import Project, build_time


@dataclass(frozen=True)
class Adopted:
    notes: int
    files: tuple[str, ...]  # written, relative to the source folder
    media: tuple[str, ...]  # copied into the media folder
    skipped: tuple[adopt.Skipped, ...]
    kept_html: tuple[tuple[str, str], ...]  # (front, what stayed raw HTML)
    kept_types: tuple[str, ...]  # names of the user's note types kept
    dry_run: bool = False
    notices: tuple[tuple[str, str], ...] = ()  # (front or GUID, what the writer had to say)
    converted: int = 0  # notes moved to this tool's note types (--convert)
    backup: Path | None = None  # made before converting


def adopt_notes(project: Project, notes: list[adopt.Existing], skipped: list[adopt.Skipped],
                media_folder: Path | None, dry_run: bool = False) -> Adopted:
    """Write the Markdown, copy the media, and record the adopted identities in the lock;
    nothing is written when anything would be overwritten or the result does not build."""
    from generator import build

    existing = {p.relative_to(project.source).as_posix()
                for p in project.source.rglob("*.md")} if project.source.is_dir() else set()
    written = adopt_sources.markdown_sources(notes, existing)
    copies = _media_copies(written.media, media_folder, project.media)
    fronts = {n.guid: written.fronts[n.guid][1] for n in notes if n.guid in written.fronts}
    result = Adopted(len(fronts), tuple(rel for rel, _ in written.files),
                     tuple(dest for _, dest in copies),
                     tuple(skipped), tuple((fronts.get(g, g), h) for g, h in written.kept_html),
                     tuple(sorted({n.kept.name for n in notes if n.guid in fronts})),
                     dry_run, tuple((fronts.get(g, g), m) for g, m in written.notices))
    if dry_run or not notes:
        return result
    for rel, _ in written.files:
        if (project.source / rel).exists():
            raise DeckError(f"'{rel}' exists in the sources; nothing was written")
    made: list[Path] = []
    try:
        for rel, text in written.files:
            path = project.source / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write(path, text)
            made.append(path)
        for source, dest in copies:
            target = project.media / dest
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                made.append(target)
        compiled = build.compile_project(project, build_time())
        if has_errors(compiled.diagnostics):
            raise BuildFailed(compiled.diagnostics, project.source)
        text = _lock_text(compiled, notes, written)
        atomic.write(project.lock_path, text, keep_mode=True, refuse_read_only=True)
    except BaseException:
        for path in reversed(made):  # all or nothing: the sources are as they were
            path.unlink(missing_ok=True)
        raise
    memory.remember(project.memory_path, text)
    return result


def _media_copies(media: tuple[tuple[str, str], ...], folder: Path | None,
                  target: Path) -> list[tuple[Path, str]]:
    """(file in the collection's media folder, name in media/) for each file a note shows;
    a different file already under that name is an error (nothing is overwritten)."""
    copies = []
    missing = []
    for name, dest in media:
        source = folder / name if folder is not None else None
        if source is None or not source.is_file():
            if not name.lower().endswith(_SOUNDS):  # an image the build would not find
                missing.append(name)
            continue
        there = target / dest
        if there.exists() and _digest(there) != _digest(source):
            raise DeckError(f"'media/{dest}' exists and differs from the collection's "
                            f"'{name}'; move it away and adopt again; nothing was written")
        copies.append((source, dest))
    if missing:
        raise DeckError(f"the collection's media folder has no '{missing[0]}'"
                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                        + ", which adopted notes show: Anki's Tools > Check Media lists such "
                        "files; restore them, or leave those notes out with --search; "
                        "nothing was written")
    return copies


_SOUNDS = (".mp3", ".ogg", ".oga", ".wav", ".m4a", ".aac", ".flac", ".opus", ".webm", ".mp4",
           ".spx", ".3gp", ".mov", ".mkv", ".avi", ".mpg", ".mpeg")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lock_text(compiled, notes: list[adopt.Existing], written) -> str:
    """The lock the build just decided, with each adopted card's row given its note's
    GUID, note type, extra fields and time (the build gave it a new identity)."""
    by_place = {(n.card.pos.path, n.card.pos.line): n for n in compiled.notes}
    rows = {row.guid: row for row in compiled.rows}
    kept: dict[int, KeptType] = {k.id: k for k in compiled.kept}
    matched: set[int] = set()
    for note in notes:
        if note.guid not in written.fronts:
            continue  # not written (said in the notices)
        rel, front = written.fronts[note.guid]
        built = by_place.get((nfc(rel), written.lines[note.guid]))
        if built is None or built.row is None:
            raise DeckError(f"the adopted card '{front}' was not found in '{rel}' after "
                            "writing it; nothing was written")
        row: LockEntry = built.row
        rows.pop(row.guid, None)
        if built.previous is not None:
            # the build took a note this project had for this card (the same front, a card
            # removed or reworded): that note stays known, and goes, as any removed one
            old = built.previous
            rows[old.guid] = replace(old, removed=True,
                                     delete=old.delete or not old.removed)
        rows[note.guid] = replace(row, guid=note.guid, mod=note.mod, kept=note.kept.id,
                                  extra=tuple(note.fields[2:]), after="", was=(),
                                  moved_from="", empty=(), removed=False, delete=False)
        matched.add(id(built))
        if note.kept.id not in kept:
            kept[note.kept.id] = keptmod.adopted(_notetype(note.kept), note.kept.shape)
    files = {nfc(rel) for rel, _ in written.files}
    stray = [n for n in compiled.notes if n.card.pos.path in files and id(n) not in matched]
    if stray:  # a card of a written file that is no adopted note would be a duplicate
        raise DeckError(f"'{stray[0].card.pos}' does not read back as the note it was "
                        f"written for ({len(stray)} card(s)); nothing was written")
    return lockfile.render_lock(tuple(rows.values()), compiled.id_base, compiled.hashes,
                                compiled.notetype_mods, compiled.shapes, compiled.project,
                                kept=tuple(kept[k] for k in sorted(kept)))


def run(project: Project, source: str | None, collection_path: str | None,
        profile: str | None, base: str | None, deck: str | None, search: str,
        dry_run: bool, convert: bool = False) -> Adopted:
    """`deck adopt`: read the notes (from a collection, Anki closed; or from an exported
    `.apkg`, imported into a throwaway collection, never the user's) and adopt them."""
    import tempfile

    from generator import collection
    from generator.notetypes import BY_KIND

    lock = lockfile.read(project.lock_path) if project.lock_path.exists() else None
    known = frozenset(e.guid for e in lock.notes) if lock is not None else frozenset()
    own = frozenset(nt.id for nt in BY_KIND.values())
    if convert and source is not None:
        raise DeckError("--convert changes note types inside a collection: adopt from the "
                        "collection (Anki closed), not from a package")
    if source is not None:
        package = Path(source).expanduser()
        if not package.is_file():
            raise DeckError(f"no package at '{source}'")
        with tempfile.TemporaryDirectory(prefix="deck-adopt-") as tmp:
            notes, skipped = adopt.read_package(package, media_into=Path(tmp), search=search,
                                                deck=deck, known_guids=known,
                                                own_notetype_ids=own)
            return adopt_notes(project, notes, skipped, Path(tmp), dry_run)
    where = collection.locate(collection_path, profile, base)
    with collection.opened(where) as col:
        notes, skipped = adopt.read(col, search=search, deck=deck, known_guids=known,
                                    own_notetype_ids=own)
        # the backup comes before anything is written: if it fails, nothing was
        backup = collection.backup(col, where) if convert and notes and not dry_run else None
        result = adopt_notes(project, notes, skipped, Path(col.media.dir()), dry_run)
        if backup is None or not result.notes:
            return result
        return _convert(col, project, notes, replace(result, backup=backup))


def _convert(col, project: Project, notes: list[adopt.Existing],
             result: Adopted) -> Adopted:
    """`--convert`: the adopted notes move to this tool's note types inside the collection
    (ids, schedules and reviews stay; a schema change: one full sync), and their lock rows
    become ordinary ones, to be rendered by the next build."""
    import json
    import time

    from generator import collection, package
    from generator.notetypes import BY_KIND, css
    from generator.model import Kind

    lock = lockfile.read(project.lock_path)
    assert lock is not None  # adopt_notes wrote it
    rows = {row.guid: row for row in lock.notes}
    groups: dict[tuple[int, int], list[int]] = {}
    mapping: dict[tuple[int, int], tuple[list[int], list[int] | None]] = {}
    for note in notes:
        row = rows.get(note.guid)
        if row is None or not row.kept:
            continue
        kind = Kind(row.kind)
        target = BY_KIND[kind].id
        groups.setdefault((note.kept.id, target), []).append(note.note_id)
        mapping[(note.kept.id, target)] = ([0, 1, -1], None if kind is Kind.CLOZE else
                                           [0, 1] if kind is Kind.REVERSED else [0])
    laid_out = json.loads(package.layout((), css(), {}, lock.id_base).models)
    collection.convert(col, groups, {int(k): v for k, v in laid_out.items()}, mapping)
    now = int(time.time())
    # only this run's notes moved; earlier adoptions keep their own note types
    converted = {n.guid for n in notes if n.guid in rows and rows[n.guid].kept}
    # the next build renders them anew: a time past the conversion's makes Anki take it
    new_rows = tuple(replace(r, kept=0, extra=(), content="converted", mod=now)
                     if r.guid in converted else r for r in lock.notes)
    used = {r.kept for r in new_rows if r.kept}
    text = lockfile.render_lock(new_rows, lock.id_base,
                                {n: h for n, h, _, _ in lock.notetypes},
                                {n: m for n, _, m, _ in lock.notetypes},
                                {n: s for n, _, _, s in lock.notetypes}, lock.project,
                                kept=tuple(k for k in lock.kept if k.id in used))
    atomic.write(project.lock_path, text, keep_mode=True)
    memory.remember(project.memory_path, text)
    return replace(result, converted=sum(len(ids) for ids in groups.values()))


def _notetype(kept: adopt.Kept) -> dict:
    import json

    return json.loads(kept.data)
