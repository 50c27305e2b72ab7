"""Lint rules over rendered cards: what Anki would show wrongly, or not at all.

Rules that need the Markdown structure run where it is known (`parse.py`, `markdown.py`,
`media.py`, `lock.py`); the ones here look at the finished fields.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from generator.cloze import MAX_CLOZE, OPENING, cloze_number, cloze_numbers
from generator.diagnostics import Diagnostic
from generator.model import Kind, RenderedCard, SourcePos

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}
# Tags that run code or restyle the whole review screen: the note editor strips them, and
# AnkiMobile and AnkiDroid do not run a field's scripts reliably.
_STRIPPED = {"script", "style", "iframe", "object", "embed", "link", "meta", "base", "form"}


def check_card(rendered: RenderedCard) -> list[Diagnostic]:
    card = rendered.card
    names = ("text", "extra") if card.kind is Kind.CLOZE else ("front", "back")
    found = []
    for name, html in zip(names, rendered.fields[:2]):
        pos = card.pos if name in ("front", "text") else SourcePos(
            card.pos.path, card.back_line or card.pos.line)
        if rendered.raw_html:  # our own HTML is balanced; only the author's needs a look
            found += [Diagnostic(_position(card, name, tag) or pos, code,
                                 f"in the {name}, {message}")
                      for code, message, tag in _html_problems(html)]
        if name in ("front", "text") and _renders_empty(html):
            found.append(Diagnostic(pos, "E109", f"the {name} renders empty in Anki"))
        elif name == "back" and _renders_empty(html):
            found.append(Diagnostic(pos, "W109", "the back renders empty in Anki"))
    if card.kind is Kind.CLOZE:
        found += [Diagnostic(card.pos, code, message)
                  for code, message in _cloze_problems(rendered.fields[0])]
    return found


_SHOWN = re.compile(r"<img\b|\\\(|\\\[|<(audio|video)\b")
# a character outside any tag that is not a space
_VISIBLE = re.compile(r"(?:^|>)[^<]*?[^\s<]")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]*>")


def _renders_empty(html: str) -> bool:
    if ("<img" in html or "\\" in html or "<audio" in html or "<video" in html) and \
            _SHOWN.search(html):  # substrings first: a tenth of the regex's time
        return False
    # the common case, decided without rewriting the field (an entity, or a comment, can be
    # split by tags and needs the full check)
    if "&" not in html and "<!--" not in html and _VISIBLE.search(html):
        return False
    text = _TAG.sub("", _COMMENT.sub("", html))
    return not unescape(text).replace("\xa0", " ").strip()


class _Balance(HTMLParser):
    """Problems as (code, message, the tag as written, to find it in the source)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in _STRIPPED:
            self.problems.append(("W701", f"'<{tag}>' is removed by Anki's editor and does "
                                  "not run reliably on AnkiMobile or AnkiDroid", f"<{tag}"))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if tag in self.stack:
            while self.stack:
                top = self.stack.pop()
                if top == tag:
                    return
                self.problems.append(("E702", f"'<{top}>' is never closed", f"<{top}"))
        else:  # browsers, and Anki, ignore it: nothing breaks
            self.problems.append(("W703", f"'</{tag}>' closes a tag that was never opened; "
                                  "it is ignored: remove it", f"</{tag}"))


def _html_problems(html: str) -> list[tuple[str, str, str]]:
    parser = _Balance()
    parser.feed(html)
    parser.close()
    problems = parser.problems
    problems += [("E702", f"'<{tag}>' is never closed; the rest of the card would "
                  "take its formatting", f"<{tag}") for tag in parser.stack]
    if html.count("<!--") > html.count("-->"):
        problems.append(("E702", "'<!--' is never closed; it would hide the rest of the card",
                         "<!--"))
    return problems


def _position(card, name: str, tag: str) -> SourcePos | None:
    """Where `tag` is written in the card's source: the heading (and what stands above a
    `?`) for the front, the answer for the back."""
    if name in ("front", "text"):
        heading, _, extra = card.front.partition("\n\n")
        spots: tuple[tuple[str, int, int], ...] = (
            (heading, card.pos.line, card.pos.col + 3), (extra, card.front_line, 1))
    else:
        spots = ((card.back, card.back_line, 1),)
    for text, first, col in spots:
        at = text.lower().find(tag)
        if at != -1 and first:
            before = text.count("\n", 0, at)
            start = text.rfind("\n", 0, at) + 1
            return SourcePos(card.pos.path, first + before, (col if not before else 1)
                             + at - start)
    return None


def _cloze_problems(text: str) -> list[tuple[str, str]]:
    problems, numbers = [], set()
    for opening in OPENING.finditer(text):
        name = f"c{opening.group(1)[:12]}"
        number = cloze_number(opening.group(1))
        body, closed, early = _cloze_body(text, opening.end())
        if not 1 <= number <= MAX_CLOZE:
            problems.append(("E604", f"cloze number '{name}' is out of range: Anki numbers "
                             f"clozes from c1 to c{MAX_CLOZE}"))
            continue
        if not closed:
            problems.append(("E604", f"cloze {name} is never closed with '}}}}'"))
            continue
        if not _text_of(body.split("::", 1)[0]):
            problems.append(("E604", f"cloze {name} is empty; Anki makes no card for it"))
            continue
        numbers.add(number)
        if early:
            problems.append(("E601", f"'}}}}' inside cloze {name} ends it early; write "
                             "'} }' (add a space) where braces are not the cloze's end"))
        hint_in_code = re.search(r"<code>[^<]*::|\\\([^)]*::", body)
        if hint_in_code or body.count("::") > 1:
            problems.append(("W603", f"'::' inside cloze {name} starts its hint: Anki "
                             "shows only what stands before it as the answer; keep '::' "
                             "outside the cloze, or use it only to add a hint"))
    if not problems and not cloze_numbers(text):
        # Anki reads clozes in the field's text: one only inside code (or split by HTML)
        # makes no card, and the note would sit in the collection with none
        problems.append(("E604", "this cloze card makes no card in Anki: its '{{c1::' is "
                         "inside code or split by formatting, where Anki does not see it; "
                         "write the cloze outside the code"))
    gaps = _gaps(sorted(numbers))
    if gaps:
        problems.append(("W602", f"cloze numbers skip {gaps}; Anki makes one card per "
                         "number, so this is probably a typo"))
    return problems


def _gaps(numbers: list[int]) -> str:
    """'c2' or 'c2 to c5, c9' for the numbers missing below the highest one."""
    ranges, expected = [], 1
    for number in numbers:
        if number > expected:
            last = number - 1
            ranges.append(f"c{expected}" if last == expected else f"c{expected} to c{last}")
        expected = number + 1
    return ", ".join(ranges)


def _text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]*>", "", html)).strip()


def _cloze_body(text: str, start: int) -> tuple[str, bool, bool]:
    """The cloze's text as Anki reads it (up to the first `}}`), whether it is closed, and
    whether that `}}` came while a `{` opened inside the cloze was still open."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("}}", i):
            return text[start:i], True, depth > 0
        if OPENING.match(text, i):
            return text[start:i], True, False  # nested clozes are Anki's own business
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth = max(0, depth - 1)
        i += 1
    return text[start:], False, False


# --- the whole project ---------------------------------------------------------------------

def check_project(notes, source, found, changed_shapes) -> list[Diagnostic]:
    """What no single file shows: no cards at all (`found`: the findings so far), deck names
    Anki would take for one, note types whose shape changed since the lock."""
    from generator.lock import LOCK_NAME
    from generator.notetypes import BY_TYPE_ID

    diagnostics = _deck_case_clashes(notes)
    from generator.diagnostics import has_errors

    if not notes and not has_errors(found):
        diagnostics.append(Diagnostic(SourcePos(".", 1), "E108", (
            f"no cards in '{_shown(source)}'; write Markdown files with '## ' headings "
            "there")))
    for nid in changed_shapes:
        diagnostics.append(Diagnostic(SourcePos(LOCK_NAME, 1), "E801", (
            f"note type '{BY_TYPE_ID[nid].name}' changed its fields or templates since the "
            "lock; Anki would skip every note of it as conflicting, or force a full sync")))
    return diagnostics


def _shown(path) -> str:
    import os

    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _deck_case_clashes(notes) -> list[Diagnostic]:
    """Anki compares deck names without regard to case: `Bio` and `bio` would be one deck
    to it (it renames one on import), and a search for either finds both."""
    decks: dict[str, SourcePos] = {}
    for note in notes:  # each deck at its first card
        card = note.rendered.card
        decks.setdefault(card.deck, card.pos)
    first: dict[str, tuple[str, SourcePos]] = {}
    found = []
    for deck, pos in decks.items():
        parts = deck.split("::")
        for depth in range(1, len(parts) + 1):
            name = "::".join(parts[:depth])
            seen, where = first.setdefault(name.casefold(), (name, pos))
            if seen != name:
                found.append(Diagnostic(pos, "E806", (
                    f"the deck '{name}' differs from the deck '{seen}' ({where.path}) only in "
                    "letter case, which Anki ignores: give both the same name, or two "
                    "different ones")))
                break
    return found
