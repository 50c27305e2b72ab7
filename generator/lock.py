"""The lock file: which GUID each card has, and when its content last changed.

GUIDs are decided here and nowhere else, in named passes over the cards: an explicit id,
the same front, a reworded front, a changed card type, and finally a new GUID derived from
the project, the deck and the front. A note's modification time moves only when its content
differs from what this machine last packaged, because Anki's importer updates a note only
when the package's time is later than its own.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from generator.check import cloze_numbers
from generator.diagnostics import DeckError, Diagnostic
from generator.model import (CardKeys, Kind, Lock, LockEntry, Note, RenderedCard, SourcePos,
                             nfc)
from generator.notetypes import BY_KIND

LOCK_NAME = "deck.lock"
VERSION = 2
READABLE = (1, 2)  # version 1: no project value, no exact first field, no pending steps
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


class LockError(DeckError):
    def __init__(self, message: str, line: int = 1, col: int = 1):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


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


# --- reading ----------------------------------------------------------------------------

_RESTORE = ("restore it from git, or pass --reset-lock to rebuild it from the sources "
            "(reworded cards then get new identities)")
_MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")
_NOTES = '"notes": ['


def read(path: Path) -> Lock | None:
    """The lock at `path`, or None when there is none."""
    text = read_text(path)
    return None if text is None else parse(text)


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise LockError(f"cannot read the lock file: {getattr(error, 'strerror', None) or error}"
                        "; restore it from git, or pass --reset-lock to rebuild it from the "
                        "sources") from None


def parse(text: str) -> Lock:
    """A lock's text. One a git merge left with conflict markers, or with both sides' rows
    (git's `union` merge), is reconciled: every identity from both sides is kept, the newer
    row where both changed one note (`Lock.reconciled` says what was done)."""
    nfc_only = unicodedata.is_normalized("NFC", text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        merged = _parse_lines(text, error)
        if merged is None:
            raise LockError(f"the lock file is corrupt ({error.msg.lower()}); {_RESTORE}",
                            error.lineno, error.colno) from None
        return merged
    try:
        if not isinstance(data, dict) or data.get("version") not in READABLE:
            raise ValueError("unknown lock version "
                             f"'{data.get('version') if isinstance(data, dict) else data}'")
        rows = [_entry(n, nfc_only) for n in data["notes"]]
        lock = _lock(data, rows)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        detail = f"missing '{error.args[0]}'" if isinstance(error, KeyError) else str(error)
        raise LockError(f"the lock file is corrupt ({detail}); {_RESTORE}") from None
    if len({e.guid for e in lock.notes}) < len(lock.notes):  # both sides of a union merge
        return _reconciled([data], rows, 0)
    lines = text.split("\n")
    if len(lines) == len(rows) + 3 and lines[-2:] == ["]}", ""]:  # as `render_lock` writes
        lock = replace(lock, lines=tuple(line[:-1] if line.endswith(",") else line
                                         for line in lines[1:-2]))
    return lock


def _lock(head: dict, rows: list[LockEntry]) -> Lock:
    notetypes = tuple((int(k), v["hash"], int(v["mod"]), v.get("shape", ""))
                      for k, v in sorted(head.get("notetypes", {}).items()))
    project, id_base = head.get("project", ""), int(head["id_base"])
    if not isinstance(project, str):
        raise ValueError(f"the project value is not a string: {project!r}")
    if not project and id_base:
        project = upgraded_project(id_base)
    return Lock(id_base=id_base, notes=tuple(rows), notetypes=notetypes, project=project)


def _parse_lines(text: str, error: json.JSONDecodeError) -> Lock | None:
    """A lock that is not one JSON document but whose every line is one of ours: what git
    leaves after merging two branches' locks. None when it is not that."""
    heads, rows, base, markers = [], [], False, 0
    for n, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith(_MARKERS):
            markers += 1
            base = stripped.startswith("|||||||")  # diff3's common ancestor: not a side
            continue
        if base or stripped in ("", "]}", "]"):
            continue
        body = stripped.rstrip(",")
        try:
            if body.endswith(_NOTES):
                heads.append(json.loads(body[: -len(_NOTES)].rstrip().rstrip(",") + "}"))
            elif body.startswith('{"guid"'):
                rows.append(_entry(json.loads(body)))
            else:
                raise ValueError("not a line of a lock")
        except (ValueError, KeyError, TypeError, AttributeError) as problem:
            if not markers and not heads:
                return None
            detail = f"missing '{problem.args[0]}'" if isinstance(problem, KeyError) else (
                "not a line of a lock" if isinstance(problem, json.JSONDecodeError)
                else str(problem))
            raise LockError(f"the lock file has merge conflicts and line {n} cannot be read "
                            f"({detail}); {_RESTORE}", n) from None
    if not heads or any(h.get("version") not in READABLE for h in heads):
        return None
    return _reconciled(heads, rows, markers)


def _reconciled(heads: list[dict], rows: list[LockEntry], markers: int) -> Lock:
    """One lock from both sides of a merge: every GUID from either side, the newer row where
    both sides changed one note, each note type's newer record."""
    chosen: dict[str, LockEntry] = {}
    both = set()
    for entry in rows:
        seen = chosen.get(entry.guid)
        if seen is None:
            chosen[entry.guid] = entry
        elif seen != entry:
            both.add(entry.guid)
            if (entry.mod, not entry.removed, entry.content) > (seen.mod, not seen.removed,
                                                                seen.content):
                chosen[entry.guid] = entry
    notetypes: dict[str, dict] = {}
    for head in heads:
        for key, record in head.get("notetypes", {}).items():
            if key not in notetypes or int(record["mod"]) > int(notetypes[key]["mod"]):
                notetypes[key] = record
    project = next((h["project"] for h in heads if h.get("project")), "")
    lock = _lock({"id_base": heads[0]["id_base"], "notetypes": notetypes, "project": project},
                 list(chosen.values()))
    how = "conflict markers" if markers else "both sides' rows"
    message = (f"the lock held a git merge's {how}; kept all {len(chosen)} identities from "
               f"both sides" + (f" ({len(both)} changed on both: kept the newer)" if both
                                else "") + " and wrote a clean lock")
    return replace(lock, reconciled=message)


def merge(*locks: Lock) -> Lock:
    """Every identity any of `locks` knows, the newer row where they differ."""
    heads = [{"id_base": lock.id_base, "project": lock.project,
              "notetypes": {str(n): {"hash": h, "mod": m, "shape": s}
                            for n, h, m, s in lock.notetypes}} for lock in locks]
    return replace(_reconciled(heads, [e for lock in locks for e in lock.notes], 0),
                   reconciled="")


def _entry(row: dict, nfc_only: bool = False) -> LockEntry:
    """One lock row, its types checked: a hand-edited lock must fail as E901, not later.
    `nfc_only`: the whole lock is known to be NFC."""
    get = row.get
    guid, file, deck, mod = row["guid"], row["file"], row["deck"], row["mod"]
    front, back, content = row["front"], row["back"], row["content"]
    text, kind, field, search = get("text", ""), get("type", ""), get("field", ""), get(
        "search", "")
    if not (type(mod) is int and guid and file and front and back and content
            and str is type(guid) is type(file) is type(deck) is type(front) is type(back)
            is type(content) is type(text) is type(kind) is type(search) is type(field)):
        raise ValueError(f"a note entry has a missing or wrong value: {json.dumps(row)[:80]}")
    if len(row) <= _PLAIN and "removed" not in row:  # most: no step, rewording or clozes
        entry = LockEntry(guid, file, deck, front, back, content, mod, text, kind, field, search)
        was: tuple[str, ...] = ()
    else:
        after, moved_from, was = get("after", ""), get("moved_from", ""), _texts(get("was", []))
        if not str is type(after) is type(moved_from):
            raise ValueError(f"a note entry has a wrong value: {json.dumps(row)[:80]}")
        entry = LockEntry(guid, file, deck, front, back, content, mod, text, kind, field,
                          search, get("removed") is True, after, was,
                          _numbers(get("clozes", [])), get("delete") is True, moved_from,
                          _numbers(get("empty", [])))
    if not nfc_only and not all(unicodedata.is_normalized("NFC", t)
                                for t in (text, deck, file, *was)):
        # written from a file saved in NFD before sources were normalised: the front's hash
        # is the hash of its text, so the identity is found again under NFC
        entry = replace(entry, front_text=nfc(text), front=digest(nfc(text)), deck=nfc(deck),
                        file=nfc(file), moved_from=nfc(entry.moved_from),
                        was=tuple(nfc(t) for t in was))
    return entry


_PLAIN = 10  # the keys every row has


def _texts(value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(type(t) is str for t in value):
        raise ValueError(f"a list of earlier fronts is not a list of texts: {value!r}")
    return tuple(value)


def _numbers(value) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(type(n) is int for n in value):
        raise ValueError(f"a list of cloze numbers is not a list of numbers: {value!r}")
    return tuple(value)


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
    rows = [n.row for n in notes]
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
        mod, status = now, "new"
    elif base.content == keys.content:
        mod, status = base.mod, "unchanged"
    else:
        # strictly later: an equal time makes Anki skip the update
        mod = max(now, base.mod + 1, entry.mod + 1 if entry is not None else 0)
        status = "changed"
    if entry is not None and mod == entry.mod and entry.content == keys.content and \
            entry.front == keys.front and entry.back == keys.back and \
            entry.deck == card.deck and entry.field and not entry.removed:
        # nothing its row records has changed: most notes of most builds
        return Note(guid, rendered, mod, status, keys, entry, None, entry)
    clozes = tuple(cloze_numbers(rendered.fields[0])) if card.kind is Kind.CLOZE else ()
    moved_from, empty = "", ()
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
                    moved_from=moved_from if moved_from != card.deck else "", empty=empty)
    return Note(guid, rendered, mod, status, keys, entry,
                entry.front_text if i in reworded else None, row)


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


def changed_shapes(lock: Lock, shapes: dict[int, str]) -> list[int]:
    """Note types whose fields or templates differ from what the collection has."""
    return [nid for nid, _, _, shape in lock.notetypes
            if shape and nid in shapes and shapes[nid] != shape]


def notetype_mods(lock: Lock, hashes: dict[int, str], now: int) -> dict[int, int]:
    """A note type's time moves when its CSS or templates change, so Anki takes the new CSS."""
    recorded = {nid: (h, mod) for nid, h, mod, _ in lock.notetypes}
    mods = {}
    for nid, h in hashes.items():
        old = recorded.get(nid)
        mods[nid] = old[1] if old and old[0] == h else max(now, old[1] + 1) if old else now
    return mods


# --- writing ----------------------------------------------------------------------------

def render_lock(rows, id_base: int, hashes: dict[int, str], mods: dict[int, int],
                shapes: dict[int, str], project: str, read: Lock | None = None) -> str:
    """Stable JSON with one note per line, so git diffs show which cards changed (and git's
    `union` merge keeps both sides' lines for `read` to reconcile). A row that is still the
    very entry `read` parsed keeps the line it was parsed from (a tenth of a rebuild went
    to writing out rows that had not changed)."""
    head = {"version": VERSION, "id_base": id_base, "project": project,
            "notetypes": {str(k): {"hash": hashes[k], "mod": mods[k], "shape": shapes[k]}
                          for k in sorted(hashes)}}
    known = {id(e): (e, line) for e, line in zip(read.notes, read.lines)} if read else {}

    def line(row: LockEntry) -> str:
        entry, text = known.get(id(row), (None, ""))
        return text if entry is row else row_json(row)

    return (json.dumps(head, sort_keys=True)[:-1] + ", " + _NOTES + "\n"
            + ",\n".join(map(line, rows)) + "\n]}\n")


def rewritten(lock: Lock, rows) -> str:
    """The text of `lock` with other rows (the same note types and ids)."""
    return render_lock(rows, lock.id_base, {n: h for n, h, _, _ in lock.notetypes},
                       {n: m for n, _, m, _ in lock.notetypes},
                       {n: s for n, _, _, s in lock.notetypes}, lock.project)


_QUOTE = json.encoder.encode_basestring  # a JSON string, non-ASCII kept as is (C speed)


def row_json(e: LockEntry) -> str:
    """The JSON of one row, written out by hand: a tenth of a 10,000-card rebuild went to
    encoding dictionaries. Optional keys appear only when set."""
    q = _QUOTE
    text = (f'{{"guid": {q(e.guid)}, "file": {q(e.file)}, "deck": {q(e.deck)}, '
            f'"type": {q(e.kind)}, "front": {q(e.front)}, "back": {q(e.back)}, '
            f'"content": {q(e.content)}, "mod": {int(e.mod)}, "text": {q(e.front_text)}, '
            + (f'"field": {q(e.field)}' if e.field or not e.search else
               f'"search": {q(e.search)}'))
    if e.clozes:
        text += f', "clozes": {list(e.clozes)}'
    if e.after:
        text += f', "after": {q(e.after)}'
    if e.was:
        text += ', "was": [' + ", ".join(map(q, e.was)) + "]"
    if e.removed:
        text += ', "removed": true'
    if e.delete:
        text += ', "delete": true'
    if e.moved_from:
        text += f', "moved_from": {q(e.moved_from)}'
    if e.empty:
        text += f', "empty": {list(e.empty)}'
    return text + "}"


def write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so a crash never leaves half a file (through a
    symbolic link: the link stays a link). The file keeps its mode, and a read-only one
    (no write bit for its owner) is refused: the user made it so, and root, who may write
    any file, must not replace it either."""
    import errno

    from generator.model import temporary_prefix

    path = path.resolve()
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644  # mkstemp makes it private; a lock is a plain file
    if not mode & 0o200:
        raise PermissionError(errno.EACCES, "the file is read-only", str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
