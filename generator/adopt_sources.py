"""`deck adopt`, its writing half: the notes `adopt.read` found as this project's Markdown.

`markdown_sources` writes one Markdown file per deck, sub-decks as folders, each note one
`## ` card, and parses every file it wrote with this project's own parser before handing
it back: a card that would not come back as the same note (another deck, another type,
other tags, a duplicate front) is fixed or reported, never written wrong silently.

Nothing here writes to disk: the caller writes `Written.files` and copies `Written.media`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from html import escape, unescape
from pathlib import PurePosixPath
from typing import Any, Iterable

from generator import markdown
from generator.adopt import Existing, Written, filled
from generator.model import Kind, RenderEnv, nfc
from generator.parse import CLOZE_RE, META_RE, parse_file

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
    from generator.html_markdown import media_of, to_markdown

    existing = list(existing_files)
    by_deck: dict[str, list[Existing]] = {}
    for note in notes:
        by_deck.setdefault(note.deck, []).append(note)
    places = _places(list(by_deck), existing)

    media: dict[str, str] = {}
    taken_media: set[str] = set()
    for note in notes:
        for html in note.fields:
            for name in media_of(html):
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
    elif shape == "reversed" or shape == "optional" and filled(fields[2]):
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
