"""Which GUID each card has, and when its content last changed.

GUIDs are decided here and nowhere else, in named passes over the cards: an explicit id,
the same front, a reworded front, a changed card type, and finally a new GUID derived from
the project, the deck and the front. A note's modification time moves only when its content
differs from what this machine last packaged, because Anki's importer updates a note only
when the package's time is later than its own.
"""

from __future__ import annotations

import difflib
import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Mapping

from generator.cloze import cloze_numbers
from generator.diagnostics import Diagnostic
from generator.model import (CardKeys, Kind, Lock, LockEntry, Note, RenderedCard, SourcePos,
                             Status, nfc)
from generator.notetypes import BY_KIND

# How alike a reworded front must be to keep its GUID: with the same back, or without.
# Short backs ("SoftMax") recur, so even a same-back match needs a related question; with
# another back, only a typo fix or rephrasing (0.9 and up), not a templated question with
# another subject ("Capital of Italy?" / "Capital of Germany?" is 0.78).
SIMILAR_SAME_BACK = 0.5
SIMILAR = 0.9
WAS = 4  # earlier fronts a row keeps: its first, and the latest ones
TYPING = 3600  # seconds: a stand-in changed again within this is still being typed
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]



def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def normalize(markdown: str) -> str:
    return " ".join(markdown.split())


def card_keys(rendered: RenderedCard) -> CardKeys:
    """The hashes the lock keeps for a card; the content is what Anki stores for the note."""
    card = rendered.card
    notetype = BY_KIND[card.kind].name
    text = normalize(card.front)
    return CardKeys(front=digest(text), back=digest(normalize(card.back)),
                    content=digest("\x1e".join((notetype, "\x1f".join(rendered.fields),
                                                " ".join(card.tags)))),
                    text=text)


def keys_of(rendered: RenderedCard) -> CardKeys:
    return rendered.keys or card_keys(rendered)


def _base62(value: int) -> str:
    digits = []
    while value:  # two base-62 digits at a time
        value, rest = divmod(value, 3844)
        digits.append(_PAIRS[rest])
    return "".join(reversed(digits)).lstrip("0") or "0"


def guid_for(project: str, deck: str, front: str, salt: int = 0) -> str:
    """A new card's GUID: from its project, deck and front, base62 so it is safe inside an
    HTML comment. The project value keeps two projects that ask the same question apart."""
    data = f"{project}\x00{deck}\x00{front}\x00{salt}".encode()
    return _base62(int.from_bytes(hashlib.sha256(data).digest()[:8], "big"))


def new_project() -> str:
    """The random value that makes a project's new GUIDs its own (about 95 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def upgraded_project(id_base: int) -> str:
    """The project value of a lock written before locks had one: from its id base (the
    time of its first build, in git with it), so every machine that upgrades the same lock
    gives it the same value."""
    value = int.from_bytes(hashlib.sha256(f"project\x00{id_base}".encode()).digest()[:12],
                           "big")
    return _base62(value).rjust(16, "0")[:16]


# --- deciding identities ----------------------------------------------------------------

@dataclass(frozen=True)
class Assignment:
    """Every card's identity and time, and what the lock this build writes holds."""

    notes: tuple[Note, ...]  # in source order
    rows: tuple[LockEntry, ...]  # the lock's rows: every note's, then the others as removed
    removed: tuple[LockEntry, ...]  # live in the lock, gone from the sources now
    retyped: tuple[tuple[Note, LockEntry], ...]  # a new note, and the old one of another type
    diagnostics: tuple[Diagnostic, ...]
    project: str


def assign(cards: list[RenderedCard], lock: Lock, now: int, project: str = "",
           emitted: Mapping[str, LockEntry] | None = None) -> Assignment:
    """Decide every note's GUID and time for `cards`, in source order.

    `project` salts new GUIDs (the lock's value, else a new one). `emitted` holds what this
    machine last packaged per GUID, when that differs from the lock (after a `git revert`,
    say): content that differs from it gets a later time than it had, or Anki would keep
    the older text.
    """
    matching = _Matching(cards, lock)
    matching.explicit_ids()
    matching.same_front()
    reworded = matching.reworded()
    retyped = matching.retyped()
    project = project or lock.project or new_project()
    matching.new(project, now)
    notes = tuple(_note(i, rendered, matching, reworded, now, emitted or {})
                  for i, rendered in enumerate(cards))
    claimed = matching.claimed
    removed = tuple(e for e in lock.notes if not e.removed and e.guid not in claimed)
    left = {e.guid for e in removed} | {e.guid for e in retyped.values()}
    rows = [n.row for n in notes if n.row is not None]  # each has one
    for entry in sorted((e for e in lock.notes if e.guid not in claimed or e.guid in left),
                        key=lambda e: (e.file, e.guid)):
        # no card has it now: pending deletion in Anki (from the deck its cards are still
        # in), unless it was gone already
        rows.append(entry if entry.removed else replace(entry, removed=True, delete=True,
                                                        empty=()))
    return Assignment(notes=notes, rows=tuple(rows), removed=removed,
                      retyped=tuple((notes[i], e) for i, e in retyped.items()),
                      diagnostics=tuple(matching.diagnostics), project=project)


class _Matching:
    """The passes that give cards the GUIDs of lock entries, each claiming what it gives."""

    def __init__(self, cards: list[RenderedCard], lock: Lock):
        self.cards = cards
        self.keys = [keys_of(r) for r in cards]
        self.kinds = [r.card.kind for r in cards]
        self.files = [nfc(r.card.pos.path) for r in cards]
        self.entries = lock.notes
        self.by_guid = {e.guid: e for e in lock.notes}
        self.by_front: dict[str, list[LockEntry]] = {}
        for entry in sorted(lock.notes, key=lambda e: e.removed):  # live entries first
            self.by_front.setdefault(entry.front, []).append(entry)
        self.chosen: dict[int, tuple[str, LockEntry | None]] = {}
        self.claimed: set[str] = set()
        self.after: dict[int, str] = {}  # new cards standing in for a note being retyped
        self.diagnostics = list(_duplicates(cards, self.keys))

    def _claim(self, i: int, guid: str, entry: LockEntry | None) -> None:
        self.chosen[i] = (guid, entry)
        self.claimed.add(guid)

    def _same_type(self, entry: LockEntry, i: int) -> bool:
        return not entry.kind or entry.kind == self.kinds[i]

    def explicit_ids(self) -> None:
        """1. `<!-- id: ... -->` under the heading."""
        for i, rendered in enumerate(self.cards):
            guid = rendered.card.explicit_id
            if guid is None or guid in self.claimed:
                continue
            entry = self.by_guid.get(guid)
            if entry is not None and not self._same_type(entry, i):
                self.diagnostics.append(Diagnostic(rendered.card.pos, "E804", (
                    f"card type changed from '{entry.kind}' to '{self.kinds[i].value}' under "
                    f"the pinned id '{guid}'; Anki cannot change a note's type on import and "
                    "would skip it as conflicting: give the card a new id, or keep its type")))
            self._claim(i, guid, entry)
        for i, rendered in enumerate(self.cards):  # a new pin on a card that had a GUID
            guid, entry = self.chosen.get(i, ("", None))
            if not guid or entry is not None:
                continue
            had = next((e for e in self.by_front.get(self.keys[i].front, ())
                        if not e.removed and e.deck == rendered.card.deck
                        and e.guid not in self.claimed and self._same_type(e, i)), None)
            if had is not None:
                self.diagnostics.append(Diagnostic(rendered.card.pos, "W111", (
                    f"the pinned id '{guid}' is new, but this card had the identity "
                    f"'{had.guid}': Anki gets a new note and the old one, with its reviews, is "
                    f"left to delete; to keep them, pin '{had.guid}' instead ('deck ids' pins "
                    "the identity a card has)")))

    def same_front(self) -> None:
        """2. The same front and type: a live entry of the same deck (two decks may each
        have a `## Summary`), then a live one of another deck (a card moved), then a removed
        one (a card pasted back), in the same deck first."""
        claimed, kinds = self.claimed, self.kinds
        todo = [i for i, key in enumerate(self.keys)
                if i not in self.chosen and key.front in self.by_front]
        for removed, same_deck in ((False, True), (False, False), (True, True), (True, False)):
            later = []
            for i in todo:
                deck = self.cards[i].card.deck
                for entry in self.by_front[self.keys[i].front]:
                    if entry.removed is removed and (entry.deck == deck or not same_deck) and \
                            entry.guid not in claimed and (not entry.kind
                                                           or entry.kind == kinds[i]):
                        self._claim(i, entry.guid, entry)
                        break
                else:
                    later.append(i)
            todo = later
            if not todo:
                break

    def _orphans(self) -> dict[str, list[LockEntry]]:
        """Unclaimed entries whose front no card has, by file: live ones (reworded in this
        save) and removed ones (a question retyped over several saves passes through
        states that are no card at all)."""
        fronts = {k.front for k in self.keys}
        found: dict[str, list[LockEntry]] = {}
        for entry in self.entries:
            if entry.guid not in self.claimed and entry.front not in fronts:
                found.setdefault(entry.file, []).append(entry)
        return found

    def reworded(self) -> dict[int, LockEntry]:
        """3. A reworded question: an entry of the same file and type whose front is gone,
        with the same back or a very similar front. Best pairs first; each used once. A note
        that stood in for another while its question was retyped gives way to that one.
        An entry's earlier fronts count too: a question retyped over several saves is
        compared with what it was before the first."""
        orphans = self._orphans()
        if not orphans:
            return {}
        pairs = []
        for i, key in enumerate(self.keys):
            if i in self.chosen or self.files[i] not in orphans:
                continue
            text = key.text.lower()
            eligible = {}
            for entry in orphans[self.files[i]]:
                if entry.kind not in ("", self.kinds[i]):
                    continue
                ratio = max(difflib.SequenceMatcher(None, before.lower(), text).ratio()
                            for before in (entry.front_text, *entry.was))
                same_back = entry.back == key.back
                if ratio >= SIMILAR or (same_back and ratio >= SIMILAR_SAME_BACK):
                    eligible[entry.guid] = (entry, same_back, ratio)
            for entry, same_back, ratio in eligible.values():
                if entry.after in eligible:
                    continue  # the note it stood in for is here: that one is the card
                pairs.append((-same_back, entry.removed, -ratio, i, entry.guid, entry))
        found: dict[int, LockEntry] = {}
        for *_, i, guid, entry in sorted(pairs, key=lambda p: p[:5]):
            if i not in found and guid not in self.claimed:
                found[i] = entry
                self._claim(i, guid, entry)
        return found

    def retyped(self) -> dict[int, LockEntry]:
        """4. The same front under another card type: Anki cannot change a note's type on
        import, so the card becomes a new note and the old one is left behind."""
        found: dict[int, LockEntry] = {}
        for i, key in enumerate(self.keys):
            candidates = self.by_front.get(key.front)
            if i in self.chosen or not candidates:
                continue
            old = next((e for e in candidates if e.guid not in self.claimed and not e.removed),
                       None)
            if old is not None:
                found[i] = old
                self.claimed.add(old.guid)
        return found

    def new(self, project: str, now: int) -> None:
        """5. A new GUID from the project, deck and front, never one in use. A new card in a
        file where a note with the same back lost its front stands in for that note: if a
        later save brings the question back close to that note's, it takes it back. A
        stand-in whose question changes again within the hour is still that question being
        typed: it keeps its GUID, rather than leave one more note behind."""
        used = {e.guid for e in self.entries} | self.claimed
        orphans = self._orphans()
        for i, key in enumerate(self.keys):
            if i in self.chosen:
                continue
            same = [e for e in orphans.get(self.files[i], ())
                    if e.back == key.back and e.kind in ("", self.kinds[i])]
            typing = [e for e in same if e.after and not e.removed and now - e.mod < TYPING]
            if typing:
                self._claim(i, typing[0].guid, typing[0])
                orphans[self.files[i]].remove(typing[0])
                continue
            deck, salt = self.cards[i].card.deck, 0
            guid = guid_for(project, deck, key.text)
            while guid in used:
                salt += 1
                guid = guid_for(project, deck, key.text, salt)
            used.add(guid)
            self.chosen[i] = (guid, None)
            if same:
                original = min(same, key=lambda e: (e.removed, -difflib.SequenceMatcher(
                    None, e.front_text.lower(), key.text.lower()).ratio()))
                orphans[self.files[i]].remove(original)
                self.after[i] = original.after or original.guid


def _note(i: int, rendered: RenderedCard, matching: _Matching, reworded, now: int,
          emitted: Mapping[str, LockEntry]) -> Note:
    """The note's time, status and lock row. Its time moves only when its content differs
    from what Anki last got from this machine (`emitted`, else the lock), and then past
    every time it had."""
    guid, entry = matching.chosen[i]
    keys = matching.keys[i]
    card = rendered.card
    base = emitted.get(guid, entry)
    if base is None:
        mod, status = now, Status.NEW
    elif base.content == keys.content:
        mod, status = base.mod, Status.UNCHANGED
    else:
        # strictly later: an equal time makes Anki skip the update
        mod = max(now, base.mod + 1, entry.mod + 1 if entry is not None else 0)
        status = Status.CHANGED
    if entry is not None and mod == entry.mod and entry.content == keys.content and \
            entry.front == keys.front and entry.back == keys.back and \
            entry.deck == card.deck and entry.field and not entry.removed:
        # nothing its row records has changed: most notes of most builds
        return Note(guid, rendered, mod, status, keys, entry, None, entry)
    clozes = tuple(cloze_numbers(rendered.fields[0])) if card.kind is Kind.CLOZE else ()
    moved_from = ""
    empty: tuple[int, ...] = ()
    if entry is not None and (not entry.removed or entry.delete):  # the note is in Anki
        moved_from = entry.moved_from or entry.deck
        if clozes:
            gone = set(entry.clozes).union(entry.empty).difference(clozes)
            empty = tuple(sorted(gone))
    was = entry.was if entry is not None else ()
    if entry is not None and entry.front_text != keys.text and entry.front_text:
        was = tuple(t for t in was if t != keys.text and t != entry.front_text) + (
            entry.front_text,)
        was = was if len(was) <= WAS else (was[0], *was[len(was) - WAS + 1:])
    row = LockEntry(guid=guid, file=matching.files[i], deck=card.deck, front=keys.front,
                    back=keys.back, content=keys.content, mod=mod, front_text=keys.text,
                    kind=str.__str__(card.kind), field=rendered.fields[0],
                    after=matching.after.get(i, entry.after if entry is not None else ""),
                    was=was, clozes=clozes,
                    moved_from=moved_from if moved_from != card.deck else "", empty=empty,
                    # an adopted note stays under the user's own note type
                    kept=entry.kept if entry is not None else 0,
                    extra=entry.extra if entry is not None else ())
    return Note(guid, rendered, mod, status, keys, entry,
                entry.front_text if i in reworded and entry is not None else None, row)


def _duplicates(cards, keys) -> tuple[Diagnostic, ...]:
    """Explicit ids are unique; so is the front of every card without one within its deck
    (a pinned card with the same front would leave it no lock entry of its own to find)."""
    found = []
    first_front: dict[tuple[str, str], SourcePos] = {}
    first_id: dict[str, SourcePos] = {}
    for rendered, key in zip(cards, keys):
        card = rendered.card
        if card.explicit_id is not None:
            seen = first_id.setdefault(card.explicit_id, card.pos)
            if seen != card.pos:
                found.append(Diagnostic(card.pos, "E104", f"id '{card.explicit_id}' is "
                                        f"already used by the card at {seen}"))
    pinned = {(r.card.deck, key.text): r.card.pos for r, key in zip(cards, keys)
              if r.card.explicit_id is not None}
    for rendered, key in zip(cards, keys):
        card = rendered.card
        if card.explicit_id is not None:
            continue
        where = (card.deck, key.text)
        seen = first_front.setdefault(where, pinned.get(where, card.pos) if pinned else
                                      card.pos)
        if seen is not card.pos:  # another card's place (the same object when it is its own)
            found.append(Diagnostic(card.pos, "E103", f"the same front as the card at {seen} "
                                    f"in the deck '{card.deck}'; reword one, or give each an "
                                    "'<!-- id: ... -->'"))
    return tuple(found)
