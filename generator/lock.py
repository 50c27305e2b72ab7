"""The lock file: which GUID each card has, and when its content last changed.

GUIDs are decided here and nowhere else. A card keeps its GUID through an explicit id,
an exact front match, or (conservatively) a reworded front; otherwise it gets one derived
from its front. A note's modification time moves only when its content does, because
Anki's importer updates a note only when the package's time is later than its own.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from generator.diagnostics import DeckError, Diagnostic
from generator.model import CardKeys, Lock, LockEntry, Note, RenderedCard, SourcePos
from generator.notetypes import BY_KIND

LOCK_NAME = "deck.lock"
VERSION = 1
# How alike a reworded front must be to keep its GUID: with the same back, or without.
# Short backs ("SoftMax") recur, so even a same-back match needs a related question.
SIMILAR_SAME_BACK = 0.5
SIMILAR = 0.75
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
                    text=text, search=_search_words(rendered.fields[0]), guid=guid_for(text))


_TAG = re.compile(r"<[^>]*>")


def _search_words(html: str) -> str:
    """The first words of the field that no tag interrupts: Anki's field search matches the
    stored HTML, so `*these words*` finds the note."""
    longest = max((" ".join(run.split()) for run in _TAG.split(html)), key=len, default="")
    return " ".join(longest.split()[:8])


def keys_of(rendered: RenderedCard) -> CardKeys:
    return rendered.keys or card_keys(rendered)


def guid_for(front: str, salt: int = 0) -> str:
    """A GUID from the front alone, base62 so it is safe inside an HTML comment."""
    value = int.from_bytes(hashlib.sha256(f"{salt}\x00{front}".encode()).digest()[:8], "big")
    digits = []
    while value:  # two base-62 digits at a time
        value, rest = divmod(value, 3844)
        digits.append(_PAIRS[rest])
    return "".join(reversed(digits)).lstrip("0") or "0"


def read(path: Path) -> Lock:
    """The lock at `path`, or an empty one when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as error:
        raise LockError(f"cannot read the lock file: {getattr(error, 'strerror', None) or error}"
                        "; restore it from git, or pass --reset-lock to rebuild it from the "
                        "sources") from None
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(f"unknown lock version '{data.get('version')}'")
        notes = tuple(_entry(n) for n in data["notes"])
        notetypes = tuple((int(k), v["hash"], int(v["mod"]), v.get("shape", ""))
                          for k, v in sorted(data.get("notetypes", {}).items()))
        return Lock(id_base=int(data["id_base"]), notes=notes, notetypes=notetypes)
    except json.JSONDecodeError as error:
        raise LockError(f"the lock file is corrupt ({error.msg.lower()}); {_RESTORE}",
                        error.lineno, error.colno) from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        detail = f"missing '{error.args[0]}'" if isinstance(error, KeyError) else str(error)
        raise LockError(f"the lock file is corrupt ({detail}); {_RESTORE}") from None


def _entry(row: dict) -> LockEntry:
    """One lock row, its types checked: a hand-edited lock must fail as E901, not later."""
    get = row.get
    guid, file, deck, mod = row["guid"], row["file"], row["deck"], row["mod"]
    front, back, content = row["front"], row["back"], row["content"]
    text, kind, search = get("text", ""), get("type", ""), get("search", "")
    if not (type(mod) is int and guid and file and front and back and content
            and str is type(guid) is type(file) is type(deck) is type(front) is type(back)
            is type(content) is type(text) is type(kind) is type(search)):
        raise ValueError(f"a note entry has a missing or wrong value: {json.dumps(row)[:80]}")
    return LockEntry(guid=guid, file=file, deck=deck, front=front, back=back, content=content,
                     mod=mod, front_text=text, kind=kind, search=search,
                     removed=get("removed") is True)


_RESTORE = ("restore it from git, or pass --reset-lock to rebuild it from the sources "
            "(reworded cards then get new identities)")


def assign(cards: list[RenderedCard], lock: Lock, now: int):
    """Decide every note's GUID and time for `cards`, in source order.

    Returns
    (notes, removed, retyped, kept, diagnostics): `removed` are the lock's cards gone from
    the sources, `retyped` the old entries of cards whose type changed (each needs a new
    note: Anki cannot change a note's type on import), `kept` every entry no card claimed
    (written back as removed, so a card pasted back later keeps its GUID).
    """
    keys = [keys_of(r) for r in cards]
    kinds = [r.card.kind for r in cards]  # a str enum: equal to the lock's "basic" etc.
    diagnostics = list(_duplicates(cards, keys))
    entries = list(lock.notes)
    by_guid = {e.guid: e for e in entries}
    by_front: dict[str, list[LockEntry]] = {}
    for entry in sorted(entries, key=lambda e: e.removed):  # live entries first
        by_front.setdefault(entry.front, []).append(entry)
    chosen: dict[int, tuple[str, LockEntry | None]] = {}
    claimed: set[str] = set()

    def same_type(entry: LockEntry, i: int) -> bool:
        return not entry.kind or entry.kind == kinds[i]

    for i, rendered in enumerate(cards):  # 1. explicit ids
        guid = rendered.card.explicit_id
        if guid is not None and guid not in claimed:
            entry = by_guid.get(guid)
            if entry is not None and not same_type(entry, i):
                diagnostics.append(Diagnostic(rendered.card.pos, "E804", (
                    f"card type changed from '{entry.kind}' to '{kinds[i].value}' under the "
                    f"pinned id '{guid}'; Anki cannot change a note's type on import and would skip "
                    "it as conflicting: give the card a new id, or keep its type")))
            chosen[i] = (guid, entry)
            claimed.add(guid)
    for i in range(len(cards)):  # 2. the same front (and type)
        candidates = by_front.get(keys[i].front)
        if i in chosen or not candidates:
            continue
        entry = next((e for e in candidates if e.guid not in claimed and same_type(e, i)),
                     None)
        if entry is not None:
            chosen[i] = (entry.guid, entry)
            claimed.add(entry.guid)
    live = [e for e in entries if not e.removed and e.guid not in claimed]
    reworded = _reworded(cards, keys, live, {k.front for k in keys}, chosen, kinds)
    for i, entry in reworded.items():
        chosen[i] = (entry.guid, entry)
        claimed.add(entry.guid)
    retyped: dict[int, LockEntry] = {}
    for i in range(len(cards)):  # a card whose type changed leaves its old note behind
        candidates = by_front.get(keys[i].front)
        if i in chosen or not candidates:
            continue
        old = next((e for e in candidates if e.guid not in claimed and not e.removed), None)
        if old is not None:
            retyped[i] = old
            claimed.add(old.guid)
    used = {e.guid for e in entries} | claimed
    for i in range(len(cards)):  # 4. new: from the front, never one in use
        if i not in chosen:
            salt, guid = 0, keys[i].guid or guid_for(keys[i].text)
            while guid in used:
                salt += 1
                guid = guid_for(keys[i].text, salt)
            chosen[i] = (guid, None)
            used.add(guid)

    notes = []
    for i, rendered in enumerate(cards):
        guid, entry = chosen[i]
        if entry is None:
            mod, status = now, "new"
        elif entry.content == keys[i].content:
            mod, status = entry.mod, "unchanged"
        else:
            # strictly later: an equal time makes Anki skip the update
            mod, status = max(now, entry.mod + 1), "changed"
        notes.append(Note(guid, rendered, mod, status, keys[i], entry,
                          entry.front_text if i in reworded else None))
    removed = tuple(e for e in entries if not e.removed and e.guid not in claimed)
    kept = tuple(replace(e, removed=True) for e in entries if e.guid not in claimed) + tuple(
        replace(e, removed=True) for e in retyped.values())
    retyped_pairs = tuple((notes[i], entry) for i, entry in retyped.items())
    return tuple(notes), removed, retyped_pairs, kept, tuple(diagnostics)


def _reworded(cards, keys, unclaimed, current_fronts, chosen, kinds) -> dict[int, LockEntry]:
    """Cards whose question was reworded: an entry of the same file and type whose front is
    gone, with the same back or a very similar front. Best pairs first; each used once."""
    orphans = [e for e in unclaimed if e.front not in current_fronts]
    pairs = []
    for i, rendered in enumerate(cards):
        if i in chosen:
            continue
        card = rendered.card
        back, text = keys[i].back, keys[i].text.lower()
        for n, entry in enumerate(orphans):
            if entry.file != card.pos.path or entry.kind not in ("", kinds[i]):
                continue
            ratio = difflib.SequenceMatcher(None, entry.front_text.lower(), text).ratio()
            if ratio >= SIMILAR or (entry.back == back and ratio >= SIMILAR_SAME_BACK):
                pairs.append((-(entry.back == back), -ratio, i, n))
    found: dict[int, LockEntry] = {}
    taken: set[int] = set()
    for _, _, i, n in sorted(pairs):
        if i not in found and n not in taken:
            found[i] = orphans[n]
            taken.add(n)
    return found


def _duplicates(cards, keys) -> tuple[Diagnostic, ...]:
    """Explicit ids are unique; so is the front of every card without one (a pinned card
    with the same front would leave it no lock entry of its own to find)."""
    found = []
    first_front: dict[str, SourcePos] = {}
    first_id: dict[str, SourcePos] = {}
    for rendered, key in zip(cards, keys):
        card = rendered.card
        if card.explicit_id is not None:
            seen = first_id.setdefault(card.explicit_id, card.pos)
            if seen != card.pos:
                found.append(Diagnostic(card.pos, "E104", f"id '{card.explicit_id}' is "
                                        f"already used by the card at {seen}"))
    pinned = {key.text: rendered.card.pos for rendered, key in zip(cards, keys)
              if rendered.card.explicit_id is not None}
    for rendered, key in zip(cards, keys):
        card = rendered.card
        if card.explicit_id is not None:
            continue
        seen = first_front.setdefault(key.text, pinned.get(key.text, card.pos))
        if seen != card.pos:
            found.append(Diagnostic(card.pos, "E103", "the same front as the card at "
                                    f"{seen}; reword one, or give each an '<!-- id: ... -->'"))
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


def render_lock(notes, kept, id_base: int, hashes: dict[int, str], mods: dict[int, int],
                shapes: dict[int, str]) -> str:
    """Stable JSON with one note per line, so git diffs show which cards changed; cards gone
    from the sources follow, marked removed."""
    head = {"version": VERSION, "id_base": id_base,
            "notetypes": {str(k): {"hash": hashes[k], "mod": mods[k], "shape": shapes[k]}
                          for k in sorted(hashes)}}
    rows = [_row(n.guid, n.card.pos.path, n.card.deck, str.__str__(n.card.kind), n.keys, n.mod)
            for n in notes]
    for entry in sorted(kept, key=lambda e: (e.file, e.guid)):
        old = CardKeys(front=entry.front, back=entry.back, content=entry.content,
                       text=entry.front_text, search=entry.search)
        rows.append(_row(entry.guid, entry.file, entry.deck, entry.kind, old, entry.mod,
                         removed=True))
    return (json.dumps(head, sort_keys=True)[:-1] + ', "notes": [\n' + ",\n".join(rows)
            + "\n]}\n")


_QUOTE = json.encoder.encode_basestring  # a JSON string, non-ASCII kept as is (C speed)


def _row(guid, file, deck, kind, keys: CardKeys, mod: int, removed: bool = False) -> str:
    """The JSON of one row, written out by hand: a tenth of a 10,000-card rebuild went to
    encoding dictionaries. `mod` is checked to be an int where it is read."""
    q = _QUOTE
    return (f'{{"guid": {q(guid)}, "file": {q(file)}, "deck": {q(deck)}, "type": {q(kind)}, '
            f'"front": {q(keys.front)}, "back": {q(keys.back)}, '
            f'"content": {q(keys.content)}, "mod": {int(mod)}, "text": {q(keys.text)}, '
            f'"search": {q(keys.search)}{_REMOVED if removed else ""}}}')


_REMOVED = ', "removed": true'


def write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so a crash never leaves half a file (through a
    symbolic link: the link stays a link)."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
