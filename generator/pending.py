"""What an import cannot do, kept until it is done: deleting notes gone from the sources,
moving cards whose deck changed, and removing the cards of cloze numbers taken out.

The lock's rows carry these (`delete`, `moved_from`, `empty`), so they survive every build
and travel with the lock in git. Each build reports what changed (W802-W805) and counts the
steps left; `deck pending` prints each step with a search that finds exactly its notes, and
`deck pending --done` marks steps done. A deck renamed is one step, whatever its size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from generator import lock as lockfile
from generator.diagnostics import DeckError, Diagnostic, short
from generator.model import Lock, LockEntry, SourcePos
from generator.search import notes_search, notetype_of, words_search

DELETE, MOVE, EMPTY = "delete", "move", "empty"
# the finding that announces each kind of step
FINDING = {DELETE: "W803", MOVE: "W802", EMPTY: "W805"}
_HOW = {
    DELETE: "in Anki's browser, search, select all, then Notes > Delete",
    MOVE: "in Anki's browser, search, select all, then Cards > Change Deck",
    EMPTY: "after importing, Tools > Empty Cards lists exactly these cards: Delete",
}
_CAREFUL = {
    DELETE: "in Anki's browser, search, select only the note meant, then Notes > Delete",
    MOVE: "in Anki's browser, search, select only the note meant, then Cards > Change Deck",
}


@dataclass(frozen=True)
class Step:
    action: str  # delete | move | empty
    title: str  # what to do, in words
    search: str  # finds exactly the notes meant, in Anki's browser (unless `careful`)
    guids: tuple[str, ...]
    careful: bool = False  # the search finds a live note too: the title says which to keep

    @property
    def how(self) -> str:
        return (_CAREFUL if self.careful else _HOW)[self.action]

    @property
    def id(self) -> str:
        """Names this step, and no other: it changes when the step does."""
        key = "\0".join((self.action, self.title, *sorted(self.guids)))
        return hashlib.sha256(key.encode()).hexdigest()[:5]


def steps(rows) -> tuple[Step, ...]:
    """The steps still to do, from the lock's rows, in a stable order."""
    deletes: dict[tuple[str, bool], list[LockEntry]] = {}
    moves: dict[tuple[str, str], list[LockEntry]] = {}
    empties: dict[str, list[LockEntry]] = {}
    live: set[str] | None = None
    for row in rows:
        if row.delete:  # its cards are where the last deck move left them
            standin = False
            if row.after:  # a stand-in, if the note it stood in for is back
                if live is None:
                    live = {r.guid for r in rows if not r.removed}
                standin = row.after in live
            deletes.setdefault((row.moved_from or row.deck, standin), []).append(row)
        if row.moved_from and not row.removed:
            moves.setdefault((row.moved_from, row.deck), []).append(row)
        if row.empty and not row.removed:
            empties.setdefault(row.deck, []).append(row)
    if not (deletes or moves or empties):
        return ()  # most builds: nothing more to look at
    twins = _Twins(rows)
    found = []
    for (deck, standin), group in sorted(deletes.items()):
        group = sorted(group, key=lambda r: (r.file, r.front_text))
        plain = [r for r in group if r.field and not twins.of(r, deck)]
        if plain and standin:
            found.append(_grouped(DELETE, f"delete {_notes(plain)} that stood in while a "
                                  f"question was retyped, in the deck '{deck}': "
                                  f"{_fronts(plain)}; only if you imported a package meanwhile "
                                  "(Anki then has it under the question it had at that "
                                  "import; the search finds the last one)", deck, plain))
        elif plain:
            found.append(_grouped(DELETE, f"delete {_notes(plain)} removed from the sources, "
                                  f"in the deck '{deck}': {_fronts(plain)}", deck, plain))
        apart = {r.guid for r in plain}
        for row in group:
            if not row.field:  # an older lock kept only some words of the note
                found.append(Step(DELETE, f"delete the note '{short(row.front_text)}' removed "
                                  f"from the sources, in the deck '{deck}' (an older lock kept "
                                  "only some of its words: check that the search finds only "
                                  "this note)", words_search(deck, row.kind, row.search
                                                             or row.front_text), (row.guid,)))
            elif row.guid not in apart:
                found.append(twins.step(DELETE, row, deck, f"delete the note "
                                        f"'{short(row.front_text)}' removed from the sources, "
                                        f"in the deck '{deck}'"))
    for (old, new), group in sorted(moves.items()):
        plain = [r for r in group if not twins.of(r, old)]
        if plain:
            found.append(_grouped(MOVE, f"move the cards of {_notes(plain)} from the deck "
                                  f"'{old}' to '{new}': {_fronts(plain)}", old, plain))
        apart = {r.guid for r in plain}
        for row in group:
            if row.guid not in apart:
                found.append(twins.step(MOVE, row, old, f"move the cards of the note "
                                        f"'{short(row.front_text)}' from the deck '{old}' to "
                                        f"'{new}'"))
    for deck, group in sorted(empties.items()):
        numbers = ", ".join(f"c{n} of '{short(r.front_text, 40)}'" for r in group
                            for n in r.empty)
        found.append(_grouped(EMPTY, "delete the cards Anki keeps for cloze numbers taken out, "
                              f"in the deck '{deck}': {numbers}", deck, group))
    return tuple(found)


def _grouped(action: str, title: str, deck: str, rows) -> Step:
    """One step for `rows`, whose search finds exactly their notes in `deck`."""
    return Step(action, title, notes_search(deck, [(r.kind, r.field) for r in rows]),
                tuple(r.guid for r in rows))


class _Twins:
    """Live notes a step's search would find too: the same note type and first field, in
    the deck searched (a live note's cards are in its deck, or in the deck it moves from).
    Their source file may tell them apart; else the step says what to leave alone."""

    def __init__(self, rows):
        self.where: dict[tuple[str, int, str], list[LockEntry]] = {}
        for row in rows:
            if not row.removed:
                for deck in {row.deck, row.moved_from} - {""}:
                    key = (deck, notetype_of(row.kind).id, row.field)
                    self.where.setdefault(key, []).append(row)

    def of(self, row: LockEntry, deck: str) -> list[LockEntry]:
        return [twin for twin in self.where.get((deck, notetype_of(row.kind).id, row.field), ())
                if twin.guid != row.guid]

    def step(self, action: str, row: LockEntry, deck: str, title: str) -> Step:
        twins = self.of(row, deck)
        if all(twin.file != row.file for twin in twins):
            where = ", ".join(sorted({f"'{t.file}'" for t in twins}))
            return Step(action, f"{title} (a card of {where} has the same question: the "
                        f"search tells them apart by their source file)",
                        notes_search(deck, [(row.kind, row.field)], source=row.file),
                        (row.guid,))
        verb = "delete" if action == DELETE else "move"
        return Step(action, f"{title}; careful: a card still in '{row.file}' has the same "
                    f"question, so the search finds its note too: {verb} only the other one "
                    "(the older note, or the one whose answer is no longer in the file), "
                    "never all of them", notes_search(deck, [(row.kind, row.field)]),
                    (row.guid,), careful=True)


def load(path: Path) -> tuple[Lock | None, tuple[Step, ...]]:
    """The lock at `path` and its steps (none without a lock)."""
    lock = lockfile.read(path)
    return lock, steps(lock.notes) if lock is not None else ()


def write_done(path: Path, lock: Lock, done: list[Step], memory_path: Path) -> None:
    """Rewrite the lock with `done` cleared (and this machine's copy of it, if it was one)."""
    from generator import memory

    old = lockfile.read_text(path)
    text = lockfile.rewritten(lock, mark_done(lock.notes, done))
    try:
        lockfile.write_atomic(path, text)
    except OSError as error:
        raise DeckError(f"cannot update the lock '{path}': {error.strerror or error}; "
                        "nothing was marked done") from None
    if memory.recall(memory_path) == old:
        memory.remember(memory_path, text)


def mark_done(rows, done: list[Step]) -> tuple[LockEntry, ...]:
    """The rows with the steps in `done` cleared."""
    cleared: dict[str, set[str]] = {}
    for step in done:
        for guid in step.guids:
            cleared.setdefault(guid, set()).add(step.action)
    out = []
    for row in rows:
        actions = cleared.get(row.guid)
        if actions:
            row = replace(row, delete=row.delete and DELETE not in actions,
                          moved_from="" if MOVE in actions else row.moved_from,
                          empty=() if EMPTY in actions else row.empty)
        out.append(row)
    return tuple(out)


def findings(notes, removed, retyped, broken: set[str]) -> list[Diagnostic]:
    """What changed since the lock that an import cannot apply. A file that could not be
    read, or holds a broken card, has not lost its cards."""
    found = []
    moved: dict[tuple[str, str, str], list] = {}
    live = {n.guid for n in notes}
    for note in notes:
        old = note.previous
        if old is not None and not old.removed and old.deck != note.card.deck:
            moved.setdefault((note.card.pos.path, old.deck, note.card.deck), []).append(note)
        gone = sorted(set(old.clozes).difference(note.row.clozes)) if (
            old is not None and note.row.clozes) else []
        if gone:
            numbers = ", ".join(f"c{n}" for n in gone)
            found.append(Diagnostic(note.card.pos, FINDING[EMPTY], (
                f"cloze {numbers} taken out: Anki keeps its card, with its reviews, as an "
                "empty card; after importing, Tools > Empty Cards deletes it ('deck pending' "
                "lists it)" if len(gone) == 1 else
                f"clozes {numbers} taken out: Anki keeps their cards, with their reviews, as "
                "empty cards; after importing, Tools > Empty Cards deletes them ('deck "
                "pending' lists them)")))
    for (_, old, new), group in moved.items():
        count = f" ({len(group)} cards of this file)" if len(group) > 1 else ""
        found.append(Diagnostic(group[0].card.pos, FINDING[MOVE], (
            f"deck changed from '{old}' to '{new}'{count}; an import does not move existing "
            "cards: 'deck pending' shows how to move them in Anki")))
    for note, entry in retyped:
        found.append(Diagnostic(note.card.pos, "W804", (
            f"card type changed from '{entry.kind}' to '{note.card.kind.value}': Anki cannot "
            "change a note's type on import, so this is a new note and its reviews start "
            "over; 'deck pending' shows how to delete the old one in Anki")))
    for entry in removed:
        if entry.file in broken:
            continue
        if entry.after and entry.after in live:
            message = (f"card '{short(entry.front_text)}' was removed from the sources (it "
                       f"stood in for a card whose question was being retyped, which is back "
                       "now); if you imported a package meanwhile, 'deck pending' shows how to "
                       "delete it in Anki")
        else:
            message = (f"card '{short(entry.front_text)}' was removed from the sources; an "
                       "import does not delete notes: 'deck pending' shows how to delete it "
                       "in Anki")
        found.append(Diagnostic(SourcePos(entry.file, 1), FINDING[DELETE], message))
    return found


def _notes(group) -> str:
    return f"{len(group)} note{'' if len(group) == 1 else 's'}"


def _fronts(group, limit: int = 3) -> str:
    shown = ", ".join(f"'{short(r.front_text, 40)}'" for r in group[:limit])
    return shown + (f" and {len(group) - limit} more" if len(group) > limit else "")
