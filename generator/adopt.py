"""`deck adopt`, its reading half: notes of a user's Anki collection (or of a package
exported from one) as this project's Markdown sources.

`read` takes the notes a search finds out of an open collection, each with its note type
kept exactly as the collection holds it (an import updates a note in place only under its
own note type: ../shared/ANKI-COLLECTION.md); `read_package` does the same for an `.apkg`
through a throwaway collection. Only note types shaped like Anki's stock Basic, Basic (and
reversed card), Basic (optional reversed card) and Cloze are taken (`shape_of` compares
their structure, not their names); the rest are listed as skipped.

`markdown_sources` writes one Markdown file per deck, sub-decks as folders, each note one
`## ` card, and parses every file it wrote with this project's own parser before handing
it back: a card that would not come back as the same note (another deck, another type,
other tags, a duplicate front) is fixed or reported, never written wrong silently.

Nothing here writes to disk or to the collection: the caller writes `Written.files` and
copies `Written.media`. The `anki` package is reached only through `generator.collection`.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from html import escape, unescape
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from generator import markdown
from generator.diagnostics import DeckError
from generator.model import Kind, RenderEnv, nfc
from generator.parse import CLOZE_RE, META_RE, parse_file

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


def _filled(field: str) -> bool:
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


# --- Markdown ----------------------------------------------------------------------------

_WINDOWS_RESERVED = re.compile(r"(?i)^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
_NAME_BYTES = 100


def _folder_ok(part: str) -> bool:
    """Whether a deck name's part can be a folder of the source tree as it is: parse.py
    makes a folder's name a parent deck's name verbatim, on every system."""
    return (bool(part) and part == part.strip() and nfc(part) == part
            and not part.startswith(".") and not part.endswith((".", " "))
            and not part.lower().endswith(".md")  # E505: a folder named like a source file
            and not _UNSAFE_NAME.search(part) and not _WINDOWS_RESERVED.match(part)
            and len(part.encode()) <= _NAME_BYTES)


def _slug(name: str) -> str:
    """A file name's stem for a deck's own name: lower case, words joined by `-`."""
    text = re.sub(r"[^\w]+", "-", unicodedata.normalize("NFC", name).casefold())
    text = text.strip("-_")
    while len(text.encode()) > 60:
        text = text[:-1]
    text = text.rstrip("-_") or "deck"
    return text + "-deck" if _WINDOWS_RESERVED.match(text) else text


def _own_name(own: str) -> str:
    """The deck name parse.py reads from a title or `deck:` holding `own`."""
    return "::".join(p.strip() for p in own.split("::") if p.strip())


def _title_ok(own: str) -> bool:
    """Whether `# own` is read back as exactly `own` (a closing `#`, a line break, leading
    or trailing spaces would change it)."""
    if "\n" in own or "\r" in own or _own_name(own) != own:
        return False
    tokens = markdown.parse(f"# {own}\n")
    return (len(tokens) == 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1"
            and tokens[1].content.strip() == own)


@dataclass(frozen=True)
class _Place:
    path: str  # relative to the source folder
    header: str  # the title line, or front matter naming the deck


def _places(decks: list[str], existing: Iterable[str]) -> dict[str, _Place]:
    """Each deck's file. The deck's parents are folders named exactly as they are while
    each can be one (`Bio::Cells` -> `Bio/cells.md`); from the first that cannot (a `/`,
    a leading `.`, a name a folder already has in another case), the rest of the name goes
    into the title (`A/B::C` -> `a-b-c.md` titled `# A/B::C`). The title gives the
    deck's own name exactly; where a title cannot, front matter's `deck:` does. No name of
    `existing` (paths relative to the source folder) is taken, in any letter case."""
    taken = {p.casefold() for p in existing}
    folders: dict[str, str] = {}  # a folder's path, case folded -> as it is on disk
    for rel in sorted(existing):
        above = PurePosixPath(rel).parts[:-1]
        for depth in range(1, len(above) + 1):
            path = "/".join(above[:depth])
            folders.setdefault(path.casefold(), path)
    places = {}
    for deck in sorted(decks, key=lambda d: (d.casefold(), d)):
        parts = deck.split("::")
        inside: list[str] = []
        for part in parts[:-1]:
            path = "/".join(inside + [part])
            if not _folder_ok(part) or folders.get(path.casefold(), path) != path \
                    or path.casefold() in taken:
                break
            inside.append(part)
        own = "::".join(parts[len(inside):])
        stem = _slug(own if len(parts) - len(inside) > 1 else parts[-1])
        base = "/".join(inside + [stem])
        path, n = base + ".md", 1
        while path.casefold() in taken or path.casefold() in folders:
            n += 1
            path = f"{base}-{n}.md"
        taken.add(path.casefold())
        for depth in range(1, len(inside) + 1):
            folder = "/".join(inside[:depth])
            folders.setdefault(folder.casefold(), folder)
        header = f"# {own}\n" if _title_ok(own) else \
            f"---\ndeck: {json.dumps(own, ensure_ascii=False)}\n---\n"
        places[deck] = _Place(path, header)
    return places


# media: what this project can look up by a bare name in `media/` (media.py splits a
# name at `#` and `?` and percent-decodes it; a `scheme:` is a URL)
_SAFE_MEDIA = re.compile(r"^(?![A-Za-z][A-Za-z0-9+.-]*:)(?!\.)[^/\\%#?\x00-\x1f\x7f]+$")
_IMG = re.compile(r"<img\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_SRC = re.compile(r"""(\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_SOUND = re.compile(r"\[sound:([^\]]*)\]")
_REMOTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")


def _media_names(html: str) -> list[str]:
    names = [unescape(m.group(2) or m.group(3) or m.group(4) or "")
             for tag in _IMG.findall(html) for m in [_SRC.search(tag)] if m]
    names += [unescape(name) for name in _SOUND.findall(html)]
    return [n for n in names if n and not _REMOTE.match(n)]


def _media_name(name: str, taken: set[str]) -> str:
    """The name a collection's media file gets in `media/`: its own, unless this project
    could not find it by that name, or another file has it in another letter case."""
    new = name if _SAFE_MEDIA.match(name) else \
        re.sub(r"[/\\%#?:\x00-\x1f\x7f]", "-", name).lstrip(".") or "media"
    stem, dot, ext = new.rpartition(".")
    if not stem:
        stem, dot, ext = new, "", ""
    n = 1
    while new.casefold() in taken:
        n += 1
        new = f"{stem}-{n}{dot}{ext}"
    taken.add(new.casefold())
    return new


def _renamed(html: str, names: dict[str, str]) -> str:
    """`html` with its media references renamed as `names` says."""
    if not any(old != new for old, new in names.items()):
        return html

    def img(tag: re.Match) -> str:
        def src(m: re.Match) -> str:
            old = unescape(m.group(2) or m.group(3) or m.group(4) or "")
            return f'{m.group(1)}"{escape(names.get(old, old))}"'
        return _SRC.sub(src, tag.group(), count=1)

    def sound(m: re.Match) -> str:
        old = unescape(m.group(1))
        return f"[sound:{escape(names.get(old, old), quote=False)}]"

    return _SOUND.sub(sound, _IMG.sub(img, html))


_ENV_PLAIN = RenderEnv(image=lambda src, line, written: written)
_ENV_CLOZE = RenderEnv(image=lambda src, line, written: written, cloze=True)
_LAYOUT = re.compile(r"\s+|</?p>|<br\s*/?>")


def _rendered(text: str, cloze: bool, inline: bool = False) -> str:
    env = _ENV_CLOZE if cloze else _ENV_PLAIN
    if inline:
        tokens = markdown.parse_inline(text, env)
        return markdown.render_inline_tokens(tokens[0].children or [] if tokens else [], env)
    return markdown.render_tokens(markdown.parse(text, env), env)


def _top_blocks(text: str) -> list[Any]:
    return [t for t in markdown.parse(text) if t.level == 0 and t.map and
            not t.type.endswith("_close") and t.type != "inline"]


def _heading(text: str) -> str:
    """One line of inline Markdown as a `## ` heading's text: a closing run of `#` (which
    ATX headings drop) escaped."""
    return re.sub(r"(^|[ \t])(#+)$", r"\1\\\2", text.strip())


def _front_layout(text: str, cloze: bool) -> tuple[str, str]:
    """The first field's Markdown as (heading, what goes above a `?` line). One line of
    paragraph text is the heading alone; a longer field gives its first line to the
    heading when that renders the same, else the heading stays empty and the whole field
    stands above the `?`."""
    text = text.strip("\n")
    lines = text.split("\n")
    blocks = _top_blocks(text)
    if not blocks or blocks[0].type != "paragraph_open" or (blocks[0].map or [1])[0] != 0:
        return "", text
    if len(lines) == 1 and len(blocks) == 1:
        return _heading(lines[0]), ""
    first = re.sub(r"(?:\\| {2,})$", "", lines[0]).strip()
    rest = "\n".join(lines[1:]).strip("\n")
    if first and rest:
        whole = _LAYOUT.sub("", _rendered(text, cloze))
        split = _LAYOUT.sub("", _rendered(first, cloze, inline=True) + _rendered(rest, cloze))
        if whole == split:
            return _heading(first), rest
    return "", text


_SPLIT_TYPES = {"fence", "code_block", "html_block", "math_block", "bullet_list_open",
                "ordered_list_open", "blockquote_open", "table_open"}


def _no_split(text: str) -> str:
    """`text` with each line that parse.py would take for the `?` split written `\\?`."""
    lines = text.split("\n")
    if not any(line.strip() == "?" for line in lines):
        return text
    protected: set[int] = set()
    for token in markdown.parse(text):
        if token.type in _SPLIT_TYPES and token.map and token.level == 0:
            protected.update(range(*token.map))
    return "\n".join(line.replace("?", "\\?") if line.strip() == "?" and n not in protected
                     else line for n, line in enumerate(lines))


def _no_cloze(text: str) -> str:
    """A basic card's text whose `{{c1::` must stay text (parse.py makes any front holding
    one a cloze card)."""
    return re.sub(r"\{\{(c\d+::)", r"{\\{\1", text)


@dataclass
class _Block:
    note: Existing
    heading: str
    above: str  # the front's Markdown above the `?` line
    back: str
    kind: Kind
    typed: bool  # write `<!-- type: ... -->`
    pin: bool = False  # write `<!-- id: GUID -->`
    mark: str = ""  # an HTML comment appended to the heading, to tell duplicates apart

    def text(self) -> str:
        heading = f"{self.heading} {self.mark}".strip() if self.mark else self.heading
        lines = [f"## {heading}".rstrip()]
        if self.pin:
            lines.append(f"<!-- id: {self.note.guid} -->")
        if self.typed:
            lines.append(f"<!-- type: {self.kind.value} -->")
        if self.note.tags:
            lines.append(f"<!-- tags: {' '.join(self.note.tags)} -->")
        lines.append("")
        if self.above:
            lines += [self.above, "", "?", ""]
        if self.back:
            lines += [self.back, ""]
        return "\n".join(lines)


def _pinnable(guid: str) -> bool:
    """Whether `<!-- id: GUID -->` is read back as exactly `guid`."""
    m = META_RE.match(f"<!-- id: {guid} -->")
    return m is not None and m.group(1) == "id" and m.group(2) == guid \
        and not any(c.isspace() for c in guid)


def markdown_sources(notes: list[Existing], existing_files: Iterable[str] = frozenset()
                     ) -> Written:
    """The Markdown files for `notes`: one per deck, each note one card (its first field
    the front, its second the back), checked by parsing each file back."""
    from generator.html_markdown import to_markdown

    existing = list(existing_files)
    by_deck: dict[str, list[Existing]] = {}
    for note in notes:
        by_deck.setdefault(note.deck, []).append(note)
    places = _places(list(by_deck), existing)

    media: dict[str, str] = {}
    taken_media: set[str] = set()
    for note in notes:
        for html in note.fields:
            for name in _media_names(html):
                if name not in media:
                    media[name] = _media_name(name, taken_media)

    files, kept_html, notices = [], [], []
    fronts: dict[str, tuple[str, str]] = {}
    lines: dict[str, int] = {}
    for deck, members in by_deck.items():
        place = places[deck]
        blocks = []
        for note in members:
            block, kept, problems = _block(note, media, to_markdown)
            kept_html += [(note.guid, k) for k in kept]
            notices += [(note.guid, p) for p in problems]
            if block is not None:
                blocks.append(block)
        if not blocks:
            continue
        text, cards, found = _checked(place, blocks, deck, notices)
        files.append((place.path, text))
        for block, card in zip(blocks, cards):
            fronts[block.note.guid] = (place.path, card.front)
            lines[block.note.guid] = card.pos.line
        notices += found
    return Written(files=tuple(files), fronts=fronts,
                   media=tuple(sorted(media.items(), key=lambda kv: kv[1].casefold())),
                   kept_html=tuple(kept_html), notices=tuple(notices), lines=lines)


def _block(note: Existing, media: dict[str, str], to_markdown
           ) -> tuple[_Block | None, list[str], list[str]]:
    """A note as a card: (the block, or None when it cannot be one; what stayed raw HTML;
    what the user should know)."""
    shape = note.kept.shape
    cloze = shape == "cloze"
    try:
        names = [str(f.get("name", "")) for f in json.loads(note.kept.data).get("flds", [])]
    except (ValueError, AttributeError):
        names = []
    names += [f"field {n + 1}" for n in range(len(names), len(note.fields))]
    fields = [_renamed(f, media) for f in note.fields] + ["", ""]
    front = to_markdown(fields[0], cloze)
    back = to_markdown(fields[1], False)
    kept = [f"{names[0]}: {k}" for k in front.kept_html] + \
        [f"{names[1]}: {k}" for k in back.kept_html]
    problems = [f"{names[0]}: {p}" for p in getattr(front, "problems", ())] + \
        [f"{names[1]}: {p}" for p in getattr(back, "problems", ())]
    front_md, back_md = front.markdown.strip("\n"), back.markdown.strip("\n")

    if cloze:
        kind = Kind.CLOZE
    elif shape == "reversed" or shape == "optional" and _filled(fields[2]):
        kind = Kind.REVERSED
    else:
        kind = Kind.BASIC
    typed = kind is not Kind.BASIC
    if kind is not Kind.CLOZE:
        if CLOZE_RE.search(front_md):
            escaped = _no_cloze(front_md)
            same = _LAYOUT.sub("", _rendered(escaped, False)) == \
                _LAYOUT.sub("", _rendered(front_md, False))
            if not same:
                return None, kept, problems + [
                    f"not adopted: its {names[0]} holds '{{{{c1::' inside code, which would "
                    "make it a cloze card here"]
            front_md = escaped
        if CLOZE_RE.search(back_md):
            typed = True  # `<!-- type: basic -->` keeps a back's `{{c1::` text
    if not front_md.strip():
        return None, kept, problems + [f"not adopted: its {names[0]} is empty, so no card can "
                                       "ask it"]
    if kind is Kind.CLOZE and not CLOZE_RE.search(front_md):
        return None, kept, problems + [f"not adopted: its {names[0]} has no cloze "
                                       "('{{c1::...}}'), so Anki makes no card of it"]
    heading, above = _front_layout(front_md, cloze)
    if not back_md.strip() and kind is not Kind.CLOZE:
        back_md = "<!-- empty in Anki -->"  # a card needs a back; this one shows nothing
    return _Block(note, heading, _no_split(above), _no_split(back_md), kind, typed), kept, \
        problems


def _file_text(place: _Place, blocks: list[_Block]) -> str:
    return place.header + "\n" + "\n".join(b.text() for b in blocks)


def _key(front: str) -> str:
    """A front as identity.py compares fronts within a deck (E103)."""
    return " ".join(front.split())


def _checked(place: _Place, blocks: list[_Block], deck: str, notices: list
             ) -> tuple[str, list, list[tuple[str, str]]]:
    """The deck's file, parsed back: cards with the same front pinned to their GUIDs (or,
    where a GUID cannot be written, told apart by a comment on the heading); the cards,
    and what still differs from the notes."""
    text = _file_text(place, blocks)
    cards, _ = parse_file(place.path, text)
    if len(cards) == len(blocks):
        groups: dict[str, list[int]] = {}
        for i, card in enumerate(cards):
            groups.setdefault(_key(card.front), []).append(i)
        used, n = set(groups), 1
        for members in (m for m in groups.values() if len(m) > 1):
            for i in members:
                block = blocks[i]
                if _pinnable(block.note.guid):
                    block.pin = True
                    continue
                heading, _, above = cards[i].front.partition("\n\n")
                while True:
                    n += 1
                    mark = f"<!-- duplicate {n} -->"
                    key = _key(f"{heading} {mark} {above}")
                    if key not in used:
                        break
                used.add(key)
                block.mark = mark
                notices.append((block.note.guid, (
                    f"the same front as another card of the deck '{deck}', and its GUID "
                    f"'{block.note.guid}' cannot be written in an id comment: its heading "
                    f"got '{mark}' (invisible in Anki) to tell them apart")))
        text = _file_text(place, blocks)
    cards, diagnostics = parse_file(place.path, text)
    found = [("", f"{d.pos}: {d.code} {d.message}") for d in diagnostics
             if d.code.startswith("E")]
    if len(cards) != len(blocks):
        found.append(("", f"{place.path}: {len(blocks)} notes written, {len(cards)} cards "
                          "read back"))
        return text, [], found
    pinned = {_key(c.front) for c in cards if c.explicit_id is not None}
    seen: set[str] = set()
    for block, card in zip(blocks, cards):
        note = block.note
        if card.explicit_id is None:
            if _key(card.front) in seen or _key(card.front) in pinned:
                found.append((note.guid, f"{card.pos}: the same front as another card of "
                                          f"the deck '{deck}' (E103)"))
            seen.add(_key(card.front))
        elif card.explicit_id != note.guid:
            found.append((note.guid, f"its id reads back as {card.explicit_id!r}"))
        if card.deck != nfc(deck):
            found.append((note.guid, f"reads back in the deck '{card.deck}', not '{deck}'"))
        if card.kind is not block.kind:
            found.append((note.guid, f"reads back as a {card.kind.value} card, not "
                                      f"{block.kind.value}"))
        if tuple(card.tags) != tuple(dict.fromkeys(note.tags)):
            found.append((note.guid, f"its tags read back as {' '.join(card.tags)!r}, not "
                                      f"{' '.join(note.tags)!r}"))
    return text, list(cards), found
