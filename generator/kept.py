"""Adopted notes under the user's own note types (`deck adopt`): what a package carries for
them. The note type goes out as the collection had it when adopting (same id, fields and
templates, and its own time), because Anki updates a note in place only under its own
note type; that time is never moved, so an import never replaces the note type itself: a
template or styling the user changes in Anki afterwards stays. (This tool's code colours
are therefore not added to it: code in an edited adopted note shows in the note type's
own colours; `deck adopt --convert` gives one look everywhere.)
"""

from __future__ import annotations

import hashlib
import json

from generator.cloze import cloze_numbers
from generator.model import Kind, KeptType, Note


def types_now(kept: tuple[KeptType, ...], rows) -> tuple[KeptType, ...]:
    """The kept note types this build packages: those a lock row still names, exactly as
    recorded. Never newer than the collection's copy, so an import never replaces the
    user's note type (templates or styling they edit in Anki after adopting are theirs)."""
    if not kept:  # the usual lock: no pass over every row
        return ()
    named = {row.kept for row in rows if row.kept}
    return tuple(k for k in kept if k.id in named)


def adopted(notetype: dict, shape: str) -> KeptType:
    """A note type as `deck adopt` records it: verbatim, at its own time."""
    data = json.dumps(notetype, sort_keys=True, ensure_ascii=False)
    return KeptType(int(notetype["id"]), str(notetype["name"]), shape, data,
                    int(notetype.get("mod", 0)),
                    hashlib.sha256(data.encode()).hexdigest()[:16])


def model(k: KeptType) -> dict:
    """The note type's JSON as the package's collection stores it."""
    data = json.loads(k.data)
    data["mod"] = k.mod
    return data


def field_count(k: KeptType) -> int:
    return len(json.loads(k.data).get("flds", ()))


def shape(k: KeptType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(field names, template names): what must not change in the collection."""
    data = json.loads(k.data)
    return (tuple(f["name"] for f in data.get("flds", ())),
            tuple(t["name"] for t in data.get("tmpls", ())))


def fields(note: Note, k: KeptType, count: int) -> list[str]:
    """The note's fields in its own note type's order: front (or text), back (or extra),
    then the fields Markdown does not hold, verbatim (a reversed card of an optional
    reversed note needs its third field set)."""
    row = note.row
    out = [note.rendered.fields[0], note.rendered.fields[1], *(row.extra if row else ())]
    if k.shape == "optional":
        while len(out) < 3:
            out.append("")
        if note.card.kind is Kind.REVERSED and not out[2]:
            out[2] = "y"
        elif note.card.kind is Kind.BASIC:
            out[2] = ""
    out += [""] * (count - len(out))
    return out[:count]


def ords(note: Note, k: KeptType, packaged: list[str]) -> tuple[int, ...]:
    if k.shape == "cloze":
        return tuple(n - 1 for n in cloze_numbers(packaged[0]))
    if k.shape == "reversed":
        return (0, 1)
    if k.shape == "optional":
        return (0, 1) if packaged[2] else (0,)
    return (0,)
