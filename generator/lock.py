"""The lock file (`deck.lock`): reading it (also as git merged it), and writing it with one
note per line. What it says is decided in `identity.py`.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from pathlib import Path

from generator.diagnostics import DeckError
from generator.identity import digest, upgraded_project
from generator.model import KeptType, Lock, LockEntry, nfc

LOCK_NAME = "deck.lock"
VERSION = 2
READABLE = (1, 2)  # version 1: no project value, no exact first field, no pending steps


class LockError(DeckError):
    def __init__(self, message: str, line: int = 1, col: int = 1):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


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
    return Lock(id_base=id_base, notes=tuple(rows), notetypes=notetypes, project=project,
                kept=_kept(head.get("kept", {})))


def _kept(records: dict) -> tuple[KeptType, ...]:
    """The user's note types of adopted notes, checked like rows."""
    kept = []
    for key, r in sorted(records.items()):
        name, shape, data, mod = r["name"], r["shape"], r["data"], r["mod"]
        if not (str is type(name) is type(shape) is type(data) and type(mod) is int
                and shape in ("basic", "reversed", "optional", "cloze")):
            raise ValueError(f"an adopted note type has a wrong value: {key}")
        kept.append(KeptType(int(key), name, shape, data, mod, str(r.get("hash", ""))))
    return tuple(kept)


def kept_json(kept: tuple[KeptType, ...]) -> dict:
    return {str(k.id): {"name": k.name, "shape": k.shape, "data": k.data, "mod": k.mod,
                        "hash": k.hash} for k in kept}


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
    kept: dict[str, dict] = {}
    for head in heads:
        for key, record in head.get("kept", {}).items():
            if key not in kept or int(record["mod"]) > int(kept[key]["mod"]):
                kept[key] = record
    lock = _lock({"id_base": heads[0]["id_base"], "notetypes": notetypes, "project": project,
                  "kept": kept}, list(chosen.values()))
    how = "conflict markers" if markers else "both sides' rows"
    message = (f"the lock held a git merge's {how}; kept all {len(chosen)} identities from "
               f"both sides" + (f" ({len(both)} changed on both: kept the newer)" if both
                                else "") + " and wrote a clean lock")
    return replace(lock, reconciled=message)


def merge(*locks: Lock) -> Lock:
    """Every identity any of `locks` knows, the newer row where they differ."""
    heads = [{"id_base": lock.id_base, "project": lock.project,
              "notetypes": {str(n): {"hash": h, "mod": m, "shape": s}
                            for n, h, m, s in lock.notetypes},
              "kept": kept_json(lock.kept)} for lock in locks]
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
        kept = get("kept", 0)
        if type(kept) is not int:
            raise ValueError(f"a note entry has a wrong value: {json.dumps(row)[:80]}")
        entry = LockEntry(guid, file, deck, front, back, content, mod, text, kind, field,
                          search, get("removed") is True, after, was,
                          _numbers(get("clozes", [])), get("delete") is True, moved_from,
                          _numbers(get("empty", [])), kept, _texts(get("extra", [])))
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
                shapes: dict[int, str], project: str, parsed: Lock | None = None,
                kept: tuple[KeptType, ...] = ()) -> str:
    """Stable JSON with one note per line, so git diffs show which cards changed (and git's
    `union` merge keeps both sides' lines for `read` to reconcile). A row that is still the
    very entry of the lock as `parsed` keeps the line it was parsed from (a tenth of a rebuild went
    to writing out rows that had not changed)."""
    head = {"version": VERSION, "id_base": id_base, "project": project,
            "notetypes": {str(k): {"hash": hashes[k], "mod": mods[k], "shape": shapes[k]}
                          for k in sorted(hashes)}}
    if kept:
        head["kept"] = kept_json(kept)
    known = {id(e): (e, text) for e, text in zip(parsed.notes, parsed.lines)} if parsed else {}

    def line(row: LockEntry) -> str:
        entry, text = known.get(id(row), (None, ""))
        return text if entry is row else row_json(row)

    return (json.dumps(head, sort_keys=True)[:-1] + ", " + _NOTES + "\n"
            + ",\n".join(map(line, rows)) + "\n]}\n")


def rewritten(lock: Lock, rows) -> str:
    """The text of `lock` with other rows (the same note types and ids)."""
    return render_lock(rows, lock.id_base, {n: h for n, h, _, _ in lock.notetypes},
                       {n: m for n, _, m, _ in lock.notetypes},
                       {n: s for n, _, _, s in lock.notetypes}, lock.project,
                       kept=lock.kept)


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
    if e.kept:
        text += f', "kept": {int(e.kept)}'
    if e.extra:
        text += ', "extra": [' + ", ".join(map(q, e.extra)) + "]"
    return text + "}"


def write_atomic(path: Path, text: str) -> None:
    """Replace the lock whole, keeping its mode; a read-only lock (no write bit for its
    owner) is refused: the user made it so."""
    from generator import atomic

    atomic.write(path, text, keep_mode=True, refuse_read_only=True)
