"""Searches for Anki's browser that find exactly the notes meant, and no other.

A search the user is told to delete the results of must not match a live note: `Cell` must
not find `Cell wall`. So a note is found by its first field as packaged, matched whole and
case-sensitively with a regular expression (Anki's plain field search ignores case, and
`*words*` matches inside other fields), in its deck without the deck's sub-decks, under its
note type. Anki's search parser turns every whitespace character into a space before it
reads a term, so any other whitespace is written as a regular-expression escape. Anki
stores fields in NFC, as this tool writes them. Checked against the real backend with
fronts holding HTML, code, math, clozes, `* _ \\ " :` and such deck names.
"""

from __future__ import annotations

from html import escape

from generator.model import Kind
from generator.notetypes import BY_KIND, NoteType

# What Rust's `regex::escape` escapes: the characters with a meaning in a pattern.
_META = frozenset("\\.+*?()|[]{}^$#&-~")
_WILDCARDS = str.maketrans({"\\": "\\\\", "*": "\\*", "_": "\\_", '"': '\\"'})


def _literal(text: str) -> str:
    """`text` as a regular expression that matches exactly it."""
    out = []
    for ch in text:
        if ch in _META:
            out.append("\\" + ch)
        elif ch.isspace() and ch != " ":
            out.append(f"\\x{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "".join(out)


def _quoted(term: str) -> str:
    """A quoted search term; in a `re:` search only `\\"` is unescaped by Anki's parser."""
    return '"' + term.replace('"', '\\"') + '"'


def deck_terms(deck: str) -> str:
    """The deck itself, not its sub-decks; `*` and `_` are wildcards in a deck search."""
    name = deck.translate(_WILDCARDS)
    return f'"deck:{name}" -"deck:{name}::*"'


def notetype_of(kind: str) -> NoteType:
    return BY_KIND[Kind(kind) if kind in _KINDS else Kind.BASIC]


_KINDS = {k.value for k in Kind}


def fields_term(notetype: NoteType, fields: list[str]) -> str:
    """The note type, and a first field that is exactly one of `fields`."""
    alternatives = sorted(dict.fromkeys(_literal(f) for f in fields))
    pattern = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    return (f'"note:{notetype.name}" '
            + _quoted(f"{notetype.fields[0][0]}:re:(?-i)^{pattern}$"))


def notes_search(deck: str, notes: list[tuple[str, str]], source: str = "") -> str:
    """Exactly the notes `(kind, first field)` in `deck`; with `source`, only those of that
    source file (the Source field every note type of this tool has)."""
    by_type: dict[int, tuple[NoteType, list[str]]] = {}
    for kind, field in notes:
        notetype = notetype_of(kind)
        by_type.setdefault(notetype.id, (notetype, []))[1].append(field)
    terms = [fields_term(notetype, fields) for _, (notetype, fields) in sorted(by_type.items())]
    chosen = terms[0] if len(terms) == 1 else "(" + " OR ".join(f"({t})" for t in terms) + ")"
    if source:
        chosen += " " + _quoted(f"Source:re:(?-i)^{_literal(escape(source))}$")
    return f"{deck_terms(deck)} {chosen}"


def words_search(deck: str, kind: str, words: str) -> str:
    """For a note the lock kept only some words of (locks written before the whole first
    field was kept): it may find other notes holding the same words."""
    words = " ".join(words.split()[:8]).translate(_WILDCARDS).replace(":", "\\:")
    notetype = notetype_of(kind)
    return (f'{deck_terms(deck)} "note:{notetype.name}" '
            f'"{notetype.fields[0][0]}:*{words}*"')
