"""The three note types. Their shape never changes: fixed ids, and fixed field and template
lists with stable ids, because Anki skips notes whose note type changed shape as
"conflicting" (or, when merging, forces a full sync to every device). CSS may change."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from generator.model import Kind


@dataclass(frozen=True)
class Template:
    name: str
    id: int
    qfmt: str
    afmt: str


@dataclass(frozen=True)
class NoteType:
    id: int
    name: str
    kind: Kind
    fields: tuple[tuple[str, int], ...]  # (name, id)
    templates: tuple[Template, ...]

    def shape(self) -> tuple:
        """What must never change for an existing collection."""
        return (self.id, self.name, self.fields,
                tuple((t.name, t.id) for t in self.templates), self.kind is Kind.CLOZE)

    def shape_hash(self) -> str:
        return hashlib.sha256(repr(self.shape()).encode()).hexdigest()[:16]

    def fingerprint(self, style: str) -> str:
        """Changes whenever anything Anki stores for the note type does."""
        data = [self.name, self.fields, [t.__dict__ for t in self.templates], style]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


_SOURCE = '\n<div class="source">{{Source}}</div>'


def _qa(front: str, back: str) -> tuple[str, str]:
    question = f'<div class="front">{{{{{front}}}}}</div>'
    return question, ('{{FrontSide}}\n<hr id="answer">\n'
                      f'<div class="back">{{{{{back}}}}}</div>{_SOURCE}')


BASIC = NoteType(
    id=1733100001, name="Markdown Basic", kind=Kind.BASIC,
    fields=(("Front", 5731928374650001), ("Back", 5731928374650002),
            ("Source", 5731928374650003)),
    templates=(Template("Card 1", 6842039485760001, *_qa("Front", "Back")),),
)
REVERSED = NoteType(
    id=1733100002, name="Markdown Reversed", kind=Kind.REVERSED,
    fields=(("Front", 5731928374650011), ("Back", 5731928374650012),
            ("Source", 5731928374650013)),
    templates=(Template("Card 1", 6842039485760011, *_qa("Front", "Back")),
               Template("Card 2", 6842039485760012, *_qa("Back", "Front"))),
)
CLOZE = NoteType(
    id=1733100003, name="Markdown Cloze", kind=Kind.CLOZE,
    fields=(("Text", 5731928374650021), ("Extra", 5731928374650022),
            ("Source", 5731928374650023)),
    templates=(Template(
        "Cloze", 6842039485760021,
        '<div class="front">{{cloze:Text}}</div>',
        '<div class="front">{{cloze:Text}}</div>\n'
        '{{#Extra}}<hr id="answer">\n<div class="back">{{Extra}}</div>{{/Extra}}' + _SOURCE),),
)

ALL = (BASIC, REVERSED, CLOZE)
BY_KIND = {nt.kind: nt for nt in ALL}
BY_TYPE_ID = {nt.id: nt for nt in ALL}

# Day colours first; night mode is `nightMode`/`night_mode` on the card's body (Anki
# desktop, AnkiMobile, AnkiDroid). Long code and wide tables scroll inside their box.
# At night images get a light backdrop: black strokes on a transparent ground would vanish.
CARD_CSS = """\
.card { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; font-size: 20px; line-height: 1.45; text-align: left; color: #1f2328;
  background-color: #ffffff; overflow-wrap: break-word; }
.card.nightMode, .card.night_mode, .nightMode .card, .night_mode .card { color: #e6edf3;
  background-color: #0d1117; }
.front, .back { max-width: 40em; margin: 0 auto; }
.front { font-weight: 600; }
hr#answer { border: 0; border-top: 1px solid #d0d7de; margin: 1em 0; }
.nightMode hr#answer, .night_mode hr#answer { border-top-color: #3d444d; }
.source { max-width: 40em; margin: 1.5em auto 0; font-size: 12px; color: #59636e; }
.nightMode .source, .night_mode .source { color: #9198a1; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.88em; padding: 0.1em 0.3em; border-radius: 4px;
  background-color: rgba(129, 139, 152, 0.18); }
pre.highlight { max-width: 100%; overflow-x: auto; padding: 0.6em 0.8em; border-radius: 6px;
  font-size: 15px; line-height: 1.4; text-align: left; white-space: pre; }
pre.highlight code { padding: 0; background: none; font-size: 1em; }
.nightMode pre.highlight, .night_mode pre.highlight { border: 1px solid #3d444d; }
.table { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; }
.nightMode th, .nightMode td, .night_mode th, .night_mode td { border-color: #3d444d; }
.math { max-width: 100%; overflow-x: auto; }
span.math { display: block; }
.front .body { font-weight: normal; }
img { max-width: 100%; height: auto; }
.nightMode img, .night_mode img { background-color: #f6f8fa; }
a { color: #0969da; }
.nightMode a, .night_mode a { color: #4493f8; }
.cloze { font-weight: bold; color: #0550ae; }
.nightMode .cloze, .night_mode .cloze { color: #79c0ff; }
"""


def css() -> str:
    from generator import highlight

    return CARD_CSS + highlight.css()
