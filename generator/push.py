"""`deck push`: the collection follows the Markdown. Build; open the user's collection
(never beside a running Anki); back it up; pull what the phone synced; import; do what an
import cannot (delete the notes the lock marks removed, move cards whose deck changed,
remove the cards of cloze numbers taken out); check that nothing needs a one-way sync;
sync, and wait for the media upload.

Only what the lock names is deleted: note type ids are shared by every project built with
this tool, so "not in this build" would also mean another project's notes. Cards are moved
only right after a pull, so no review the phone has synced is undone by the move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generator import collection, credentials, pending
from generator import kept as keptmod
from generator.diagnostics import BuildFailed, DeckError, has_errors
from generator.model import Compiled, LockEntry
from generator.notetypes import BY_KIND, BY_TYPE_ID
from generator.project import Project


@dataclass(frozen=True)
class Options:
    collection: str | None = None
    profile: str | None = None
    base: str | None = None
    sync: bool = True
    dry_run: bool = False
    allow_full_sync: bool = False


@dataclass(frozen=True)
class Work:
    """One pending step, as the collection lets it be done."""

    step: pending.Step
    fronts: tuple[str, ...]
    notes: tuple[int, ...] = ()  # delete: the note ids
    cards: tuple[int, ...] = ()  # move: the cards to move; empty: the cards to remove
    deck: str = ""  # move: where to


@dataclass(frozen=True)
class Plan:
    new: tuple[str, ...]  # fronts
    updated: tuple[str, ...]
    unchanged: int
    conflicting: tuple[str, ...]  # the GUID is a note of another note type: left alone
    work: tuple[Work, ...]
    reshaped: tuple[str, ...]  # our note types whose fields or templates differ there

    def of(self, action: str) -> tuple[Work, ...]:
        return tuple(w for w in self.work if w.step.action == action)

    @property
    def nothing(self) -> bool:
        return not (self.new or self.updated or self.reshaped
                    or any(w.notes or w.cards for w in self.work))


@dataclass(frozen=True)
class Result:
    plan: Plan
    where: collection.Where
    dry_run: bool = False
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    moved: int = 0
    emptied: int = 0
    sync: str = ""  # what happened: "normal sync", "not synced (...)", ...
    media: int = 0
    backup: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # said besides the counts


def plan(col, compiled: Compiled) -> Plan:
    rows = {row.guid: row for row in compiled.rows}
    steps = compiled.steps
    guids = {n.guid for n in compiled.notes} | {g for s in steps for g in s.guids}
    held = collection.held(col, guids)
    kept = {k.id: k for k in compiled.kept}  # the user's note types of adopted notes
    ours = {nt.id for nt in BY_KIND.values()} | set(kept)
    new, updated, conflicting, unchanged = [], [], [], 0
    for note in compiled.notes:
        found = held.get(note.guid)
        front = note.keys.text
        if found is None:
            new.append(front)
        elif found.mid != ((note.row.kept if note.row is not None else 0)
                           or BY_KIND[note.card.kind].id):
            conflicting.append(front)
        elif note.mod > found.mod:  # Anki's "update if newer"
            updated.append(front)
        else:
            unchanged += 1
    empty: set[int] | None = None
    if any(step.action == pending.EMPTY for step in steps):
        empty = collection.empty_cards(col)  # one report for every step
    work = tuple(_work(col, step, rows, held, ours, empty or set()) for step in steps)
    shapes = collection.notetype_shapes(col, ours)
    reshaped = tuple(BY_TYPE_ID[nid].name for nid, shape in shapes.items()
                     if nid in BY_TYPE_ID and shape != _shape(nid))
    changed = tuple(kept[nid].name for nid, shape in shapes.items()
                    if nid in kept and shape != keptmod.shape(kept[nid]))
    if changed:
        raise DeckError(_changed_in_anki(changed))
    return Plan(tuple(new), tuple(updated), unchanged, tuple(conflicting), work, reshaped)


def _shape(nid: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    notetype = BY_TYPE_ID[nid]
    return (tuple(name for name, _ in notetype.fields),
            tuple(t.name for t in notetype.templates))


def _work(col, step: pending.Step, rows: dict[str, LockEntry], held, ours,
          empty: set[int]) -> Work:
    mine = [(rows[g], held.get(g)) for g in step.guids if g in rows]
    fronts = tuple(row.front_text for row, _ in mine)
    present = [(row, h) for row, h in mine if h is not None and h.mid in ours]
    if step.action == pending.DELETE:
        return Work(step, fronts, notes=tuple(h.id for _, h in present))
    if step.action == pending.MOVE:
        deck = present[0][0].deck if present else (mine[0][0].deck if mine else "")
        target = col.decks.id_for_name(deck) if deck else None
        cards = tuple(cid for _, h in present for cid, _, home in h.cards if home != target)
        return Work(step, fronts, cards=cards, deck=deck)
    cards = tuple(cid for row, h in present for cid, ord_, _ in h.cards
                  if ord_ + 1 in row.empty and cid in empty)
    return Work(step, fronts, cards=cards)


def push(project: Project, options: Options) -> tuple[Result, Compiled]:
    from generator import build

    if options.dry_run:  # decided, not written
        compiled = build.compile_project(project, build.build_time())
        if has_errors(compiled.diagnostics):
            raise BuildFailed(compiled.diagnostics, project.source)
        package = None
    else:
        summary, compiled = build.build(project)
        package = Path(summary.output)
    where = collection.locate(options.collection, options.profile, options.base)
    with collection.opened(where) as col:
        first = plan(col, compiled)
        if options.dry_run:
            return Result(first, where, dry_run=True), compiled
        if first.reshaped and not options.allow_full_sync:
            raise DeckError(_reshaped(first.reshaped))
        if first.nothing:
            return Result(first, where, unchanged=first.unchanged, sync="nothing to sync",
                          notes=_conflicts(first)), compiled
        assert package is not None
        return _apply(col, project, compiled, package, where, options), compiled


def _apply(col, project: Project, compiled: Compiled, package: Path,
           where: collection.Where, options: Options) -> Result:
    key = _key(where) if options.sync else None
    if key is not None and col.schema_changed():
        raise DeckError("this collection already needs a one-way sync (a change made in "
                        "Anki): sync it in Anki first, then push again; nothing was changed")
    backup = collection.backup(col, where)
    auth = collection.auth(key.hkey, key.endpoint) if key is not None else None
    if auth is not None:
        _sync_or_refuse(lambda: collection.sync(col, auth), pulling=True)
    todo = plan(col, compiled)  # again: the pull may have brought the phone's changes
    schema = collection.counters(col)[1]
    log = collection.import_package(col, package, merge_notetypes=bool(
        todo.reshaped) and options.allow_full_sync)
    deleted = [nid for w in todo.of(pending.DELETE) for nid in w.notes]
    if deleted:
        col.remove_notes(deleted)
    moved = 0
    if auth is not None:  # only right after a pull: a move rewrites the card's row
        for w in todo.of(pending.MOVE):
            if w.cards:
                col.set_deck(list(w.cards), collection.deck_id(col, w.deck))
                moved += len(w.cards)
    emptied = [cid for w in todo.of(pending.EMPTY) for cid in w.cards]
    if emptied:
        col.remove_cards_and_orphaned_notes(emptied)
    full = collection.counters(col)[1] != schema
    notes: list[str] = []
    if full and not options.allow_full_sync:
        raise DeckError(f"this push changed the collection in a way that needs a one-way sync, "
                        f"so it was not synced: restore '{backup}' (File > Switch Profile, "
                        "then Tools > Restore Backup... in Anki) or pass --allow-full-sync")
    sync, media = "not synced: no sync login ('deck login')", 0
    if not options.sync:
        sync = "not synced (--no-sync)"
    if auth is not None:
        output, media = _sync_or_refuse(lambda: collection.sync_with_media(col, auth),
                                        pulling=False)
        needed = collection.required(output)
        if needed == "full" and options.allow_full_sync:
            collection.full_upload(col, auth, output.server_media_usn)
            sync = ("one-way sync: uploaded; every other device downloads the whole "
                    "collection, and reviews they had not synced are lost")
        elif needed == "full":
            sync = "not synced: the server asks for a one-way sync; sync in Anki to choose"
        else:
            sync = "normal sync"
        if output.server_message:
            notes.append(f"the sync server says: {output.server_message}")
        if output.new_endpoint and key is not None and key.stored:
            credentials.moved(output.new_endpoint)  # the server says where to go next time
    elif any(w.cards for w in todo.of(pending.MOVE)):
        notes.append("cards whose deck changed were not moved: a move needs a sync right "
                     "before it, so no review from the phone is undone; 'deck pending' "
                     "keeps the step")
    notes += list(_conflicts(todo))
    _mark_done(project, todo, moved_too=auth is not None)
    counted = len(log.new) + len(log.updated) + len(log.conflicting)
    return Result(todo, where, new=len(log.new), updated=len(log.updated),
                  unchanged=len(compiled.notes) - counted, deleted=len(deleted), moved=moved,
                  emptied=len(emptied), sync=sync, media=media, backup=backup,
                  notes=tuple(notes))


def _conflicts(plan: Plan) -> tuple[str, ...]:
    if not plan.conflicting:
        return ()
    return (f"{len(plan.conflicting)} card(s) left alone: in the collection a note of another "
            f"note type has their identity (first: '{plan.conflicting[0]}'), so Anki skips "
            "them as conflicting",)


def _key(where: collection.Where) -> credentials.Key | None:
    profiles = collection.read_profiles(where.base) if where.base else {}
    return credentials.find(profiles.get(where.profile))


def _sync_or_refuse(run, pulling: bool):
    with collection.sync_errors("nothing was changed" if pulling else
                                "the collection holds the push; sync in Anki to send it to "
                                "your devices"):
        output = run()
    reply = output[0] if isinstance(output, tuple) else output
    if pulling and collection.required(reply) == "full":
        raise DeckError("the sync server asks for a one-way sync (one side was reset or "
                        "restored): sync in Anki and choose a side, then push again; nothing "
                        "was changed")
    return output


def _mark_done(project: Project, done: Plan, moved_too: bool) -> None:
    lock, steps = pending.load(project.lock_path)
    if lock is None:
        return
    finished = {w.step.id for w in done.work if moved_too or w.step.action != pending.MOVE}
    chosen = [s for s in steps if s.id in finished]
    if chosen:
        pending.write_done(project.lock_path, lock, chosen, project.memory_path)


def _note_types(names: tuple[str, ...]) -> str:
    return f"note type{'s' if len(names) > 1 else ''} " + ", ".join(f"'{n}'" for n in names)


def _changed_in_anki(names: tuple[str, ...]) -> str:
    return (f"your {_note_types(names)}, whose notes this "
            "project adopted, changed its fields or templates in Anki since: importing "
            "would skip those notes as conflicting or make 'Basic+'-like copies: undo the "
            "change in Anki (Tools > Manage Note Types), then push again; nothing was "
            "changed")


def _reshaped(names: tuple[str, ...]) -> str:
    return (f"the {_note_types(names)} in the collection "
            "differ in fields or templates from this tool's: importing would skip their "
            "notes as conflicting. Merging them keeps fields added in Anki with a normal "
            "sync, but bringing back a field or template of this tool's needs a one-way sync "
            "(every device downloads the whole collection again, and reviews not yet synced "
            "from a phone are lost). Pass --allow-full-sync to allow it; nothing was changed")
