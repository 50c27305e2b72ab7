"""`deck adopt`, its reading half: notes of a user's Anki collection (or of a package
exported from one) as this project's Markdown sources.

`read` takes the notes a search finds out of an open collection, each with its note type
kept exactly as the collection holds it (an import updates a note in place only under its
own note type: ../shared/ANKI-COLLECTION.md); `read_package` does the same for an `.apkg`
through a throwaway collection. Only note types shaped like Anki's stock Basic, Basic (and
reversed card), Basic (optional reversed card) and Cloze are taken (`shape_of` compares
their structure, not their names); the rest are listed as skipped.

Writing their Markdown is `adopt_sources.py`'s. Nothing here writes to the collection;
the `anki` package is reached only through `generator.collection`.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from generator.diagnostics import DeckError

@dataclass(frozen=True)
class Kept:
    """A note type adopted as it is in the collection."""

    id: int
    name: str
    shape: str  # basic | reversed | optional | cloze
    data: str  # json.dumps(col.models.get(id), sort_keys=True): verbatim


@dataclass(frozen=True)
class Existing:
    """One note read from the collection."""

    guid: str
    note_id: int
    kept: Kept
    deck: str  # the home deck (odid or did) of its first card, "A::B"
    mod: int  # the note's modification time, seconds
    fields: tuple[str, ...]  # raw field HTML, in the note type's order
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    guid: str
    note_id: int
    reason: str


@dataclass(frozen=True)
class Written:
    files: tuple[tuple[str, str], ...]  # (path relative to the source folder, Markdown)
    fronts: dict[str, tuple[str, str]]  # guid -> (file, the card's front as parse_file reads it)
    media: tuple[tuple[str, str], ...]  # (name in the collection's media folder, name in media/)
    kept_html: tuple[tuple[str, str], ...]  # (guid, "Field: what stayed raw HTML")
    # (guid, what the user should know): notes not written, fronts made unique without an
    # id, tags that cannot be written, findings of the parser on a written file
    notices: tuple[tuple[str, str], ...] = ()
    # guid -> the line of its card's `## ` heading in its file (Card.pos.line): where two
    # cards of a file ask the same, their fronts are equal but their lines are not
    lines: dict[str, int] = field(default_factory=dict)


# --- note types --------------------------------------------------------------------------

_FRONT_SIDE = "\0FrontSide"  # `{{FrontSide}}`, never a field's name
_REFERENCE = re.compile(r"\{\{\s*([#^/]?)\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class _Side:
    shown: frozenset[str]  # fields shown (through any filter but `type:`), and _FRONT_SIDE
    typed: frozenset[str]  # `{{type:Field}}`: an answer box, not something shown
    sections: frozenset[str]  # `{{#Field}}`/`{{^Field}}`: the side's conditions
    clozes: frozenset[str]  # `{{cloze:Field}}`


def _side(template: Any) -> _Side:
    shown, typed, sections, clozes = set(), set(), set(), set()
    for sigil, body in _REFERENCE.findall(str(template or "")):
        if sigil in ("#", "^"):
            sections.add(body)
            continue
        if sigil == "/":
            continue
        *filters, name = (part.strip() for part in body.split(":"))
        if name == "FrontSide" and not filters:
            shown.add(_FRONT_SIDE)
        elif "type" in filters:
            typed.add(name)
        else:
            shown.add(name)
            if "cloze" in filters:
                clozes.add(name)
    return _Side(frozenset(shown), frozenset(typed), frozenset(sections), frozenset(clozes))


def _asks(template: dict, ask: str, answer: str) -> bool:
    """A card type that shows the field `ask` alone on its question and `answer` on its
    answer side (beside the question, `{{FrontSide}}`), and no other field."""
    question, back = _side(template.get("qfmt")), _side(template.get("afmt"))
    return (question.shown == {ask} and question.typed <= {answer} and not question.clozes
            and back.shown <= {ask, answer, _FRONT_SIDE} and not back.clozes
            and (answer in back.shown or answer in back.typed))


def shape_of(notetype: dict) -> str | None:
    """Which stock note type `notetype` is shaped like, by its structure (fields, card
    types, what each side shows), whatever it and its fields are called: "basic",
    "reversed", "optional" (its second card only when the third field is filled), "cloze";
    None for any other (Image Occlusion, a third card type, a field more)."""
    fields = [str(f.get("name", "")) for f in notetype.get("flds") or ()]
    templates = list(notetype.get("tmpls") or ())
    if notetype.get("type") == 1:
        if len(fields) != 2 or len(templates) != 1:
            return None
        text, extra = fields
        question, answer = _side(templates[0].get("qfmt")), _side(templates[0].get("afmt"))
        if question.clozes == {text} and question.shown == {text} and not question.typed \
                and answer.shown <= {text, extra, _FRONT_SIDE} and answer.clozes <= {text}:
            return "cloze"
        return None
    if notetype.get("type", 0) != 0:
        return None
    if len(fields) == 2 and len(templates) == 1:
        return "basic" if _asks(templates[0], fields[0], fields[1]) else None
    if len(fields) == 2 and len(templates) == 2:
        forward, backward = templates
        return "reversed" if _asks(forward, *fields) and _asks(backward, *fields[::-1]) \
            else None
    if len(fields) == 3 and len(templates) == 2:
        ask, tell, flag = fields
        forward, backward = templates
        sides = [_side(t.get(k)) for t in templates for k in ("qfmt", "afmt")]
        if _asks(forward, ask, tell) and _asks(backward, tell, ask) \
                and flag in _side(backward.get("qfmt")).sections \
                and not any(flag in s.shown or flag in s.typed for s in sides):
            return "optional"
    return None


_EMPTY_FIELD = re.compile(r"(?i)^(?:\s|&nbsp;|</?(?:br|div|p)\s*/?>)*$")


def filled(field: str) -> bool:
    """Whether Anki counts a field as filled (an optional reverse card exists)."""
    return not _EMPTY_FIELD.match(field)


# --- reading the collection --------------------------------------------------------------

_DECK_WILDCARDS = str.maketrans({"\\": "\\\\", "*": "\\*", "_": "\\_", '"': '\\"'})


def deck_search(deck: str) -> str:
    """Anki's search for the deck `deck` and its sub-decks (`*` and `_` are wildcards in a
    deck search, so they are escaped, as are `\\` and `"`)."""
    return f'"deck:{deck.translate(_DECK_WILDCARDS)}"'


def read(col, search: str = "", deck: str | None = None,
         known_guids: Iterable[str] = frozenset(), own_notetype_ids: Iterable[int] = frozenset()
         ) -> tuple[list[Existing], list[Skipped]]:
    """The notes of the open collection `col` that the Anki search `search` finds in `deck`
    (its sub-decks too; None or "": every deck), in deck order then as they were added;
    and those left out, with why. Nothing in the collection changes."""
    terms = [f"({search})" if search.strip() else "", deck_search(deck) if deck else ""]
    try:
        ids = sorted(int(n) for n in col.find_notes(" ".join(t for t in terms if t)))
    except Exception as error:
        if type(error).__name__ != "SearchError":  # anki.errors, not imported here
            raise
        raise DeckError(f"Anki cannot read the search '{search}': {error}") from None
    known, own = set(known_guids), {int(i) for i in own_notetype_ids}
    notes: list[Existing] = []
    skipped: list[Skipped] = []
    if not ids:
        return notes, skipped
    kept: dict[int, Kept | None] = {}
    names: dict[int, str] = {}
    homes: dict[int, int] = {}
    for at in range(0, len(ids), 5000):
        chunk = "(" + ",".join(map(str, ids[at : at + 5000])) + ")"
        for nid, did, odid in col.db.all(
                f"select nid, did, odid from cards where nid in {chunk} order by nid, ord, id"):
            homes.setdefault(int(nid), int(odid or did))
        rows = col.db.all(f"select id, guid, mid, mod, flds, tags from notes where id in {chunk}")
        for nid, guid, mid, mod, flds, tags in sorted(rows):
            nid, mid = int(nid), int(mid)

            if mid not in kept:
                kept[mid] = _kept(col, mid)
            home = homes.get(nid)
            if home is not None and home not in names:
                names[home] = col.decks.name_if_exists(home) or ""
            reason = _left_out(col, guid in known, mid in own, mid, kept[mid], home,
                               names.get(home or 0, ""))
            if reason:
                skipped.append(Skipped(guid, nid, reason))
                continue
            notetype, deck_name = kept[mid], names[home or 0]
            assert notetype is not None
            notes.append(Existing(guid=guid, note_id=nid, kept=notetype, deck=deck_name,
                                  mod=int(mod), fields=tuple(str(flds).split("\x1f")),
                                  tags=tuple(str(tags).split())))
    notes.sort(key=lambda n: (n.deck.casefold(), n.deck, n.note_id))
    skipped.sort(key=lambda s: s.note_id)
    return notes, skipped


def _left_out(col, known: bool, own: bool, mid: int, kept: Kept | None, home: int | None,
              deck: str) -> str:
    """Why a note is not adopted ("" when it is)."""
    if known:
        return "already in this project's lock"
    if own:
        return "a note of this tool's own note types (another project)"
    if kept is None:
        found = col.models.get(mid)
        if not found:
            return f"its note type ({mid}) is missing from the collection"
        return (f"note type '{found['name']}' is not shaped like Basic, Basic (and reversed "
                "card), Basic (optional reversed card) or Cloze "
                f"({_count(found.get('flds'), 'field')}, "
                f"{_count(found.get('tmpls'), 'card type')})")
    if home is None:
        return "it has no cards"
    if not deck:
        return f"its cards are in a deck ({home}) the collection does not have"
    return ""


def _count(items: Any, what: str) -> str:
    n = len(items or ())
    return f"{n} {what}{'' if n == 1 else 's'}"


def _kept(col, mid: int) -> Kept | None:
    notetype = col.models.get(mid)
    if not notetype:
        return None
    shape = shape_of(notetype)
    if shape is None:
        return None
    return Kept(id=int(notetype["id"]), name=str(notetype["name"]), shape=shape,
                data=json.dumps(notetype, sort_keys=True))


def read_package(apkg: Path, media_into: Path | None = None, **same: Any
                 ) -> tuple[list[Existing], list[Skipped]]:
    """`read` for an `.apkg` exported from Anki (with scheduling): imported into a throwaway
    collection in a temporary folder, never the user's, and read there. `media_into`: a
    folder to copy the package's media files into (the temporary collection's media
    folder goes with it), to copy `Written.media` from as from a collection's."""
    from generator.collection import backend

    mod = backend()
    with tempfile.TemporaryDirectory(prefix="deck-adopt-") as folder:
        col = mod.Collection(str(Path(folder) / "collection.anki2"))
        try:
            _clear_notetypes(col)
            options = col._backend.get_import_anki_package_presets()
            options.merge_notetypes = False
            options.with_scheduling = True
            options.with_deck_configs = False
            col.import_anki_package(mod.ImportAnkiPackageRequest(
                package_path=str(Path(apkg).resolve()), options=options))
            col.models._clear_cache()
            found = read(col, **same)
            if media_into is not None:
                media_into.mkdir(parents=True, exist_ok=True)
                for path in Path(col.media.dir()).iterdir():
                    if path.is_file():
                        shutil.copy2(path, media_into / path.name)
        finally:
            col.close()
    return found


def _clear_notetypes(col) -> None:
    """A new collection's stock note types out of the way of a package's: one of the same
    name would make the package's 'Basic' come in as 'Basic+' (and its notes would be
    adopted under that name). The backend keeps one note type: it gets a name no package
    has."""
    ids = [int(m.id) for m in col.models.all_names_and_ids()]
    for nid in ids[1:]:
        col.models.remove(nid)
    if ids:
        last = col.models.get(ids[0])
        last["name"] = f"\u2060deck adopt {ids[0]}"
        col.models.update_dict(last)
