"""Adopted notes under the user's own note types (`deck adopt`): what a package carries for
them. The note type goes out as the collection had it (same id, fields and templates),
because Anki updates a note in place only under its own note type; this tool's CSS is
appended once a note of it is rendered here (CSS changes are safe to sync). Its time moves
only when what is packaged changes, so the first build after adopting updates nothing.
"""

from __future__ import annotations

import hashlib
import json

from generator.cloze import cloze_numbers
from generator.model import Kind, KeptType, Note, Status


def style() -> str:
    """What is appended to a kept note type: the code colours only (class-scoped), never
    the card's own look, which the user's other notes of that type share."""
    from generator import highlight

    return highlight.css()


def types_now(kept: tuple[KeptType, ...], notes, rows, now: int) -> tuple[KeptType, ...]:
    """The kept note types as this build packages them (those a lock row still names)."""
    rendered_here = {n.row.kept for n in notes
                     if n.row is not None and n.row.kept and n.status is not Status.UNCHANGED}
    named = {row.kept for row in rows if row.kept}
    if not named:
        return ()
    appended = style()
    out = []
    for k in kept:
        if k.id not in named:
            continue
        styled = k.styled or k.id in rendered_here
        digest = _fingerprint(k.data, appended if styled else "")
        mod = k.mod if digest == k.hash or not k.hash else max(now, k.mod + 1)
        out.append(KeptType(k.id, k.name, k.shape, k.data, mod, digest, styled))
    return tuple(out)


def adopted(notetype: dict, shape: str) -> KeptType:
    """A note type as `deck adopt` records it: verbatim, unstyled, at its own time."""
    data = json.dumps(notetype, sort_keys=True, ensure_ascii=False)
    return KeptType(int(notetype["id"]), str(notetype["name"]), shape, data,
                    int(notetype.get("mod", 0)), _fingerprint(data, ""), False)


def _fingerprint(data: str, style: str) -> str:
    return hashlib.sha256(f"{data}\0{style}".encode()).hexdigest()[:16]


def model(k: KeptType) -> dict:
    """The note type's JSON as the package's collection stores it."""
    data = json.loads(k.data)
    if k.styled:
        data["css"] = f"{data.get('css', '')}\n/* markdown-anki-deck: code colours */\n{style()}"
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
