"""An Anki field's HTML as this project's Markdown, for `deck adopt`; the one module that
uses `html_to_markdown`.

`to_markdown(html, cloze)` gives a `Converted`: the Markdown, what stayed raw HTML (for the
user's list) and the media the field uses (for the caller to copy). Before the converter
runs, MathJax `\\(...\\)`/`\\[...\\]`, cloze markers, `[sound:...]`, HTML Markdown cannot say
and the Markdown-special characters of the text become private-use characters, restored
after it: the converter can neither escape nor reflow them. Kept raw: any `style=` or class,
`<u>`, `<font>`, `<sub>`/`<sup>`, headings (a `## ` would start a card), tables with merged
cells or no header row, unknown tags. `round_trip` renders the Markdown with our renderer
and compares it with the field; a field that would lose anything stays whole raw HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape
from typing import NamedTuple

from html_to_markdown import ConversionError, ConversionOptions, convert

from generator import markdown
from generator.diagnostics import short
from generator.formulas import separate_braces
from generator.model import RenderEnv


@dataclass(frozen=True)
class Converted:
    markdown: str  # no trailing newline
    kept_html: tuple[str, ...] = ()  # opening tags kept raw as written, or "whole field: why"
    media: tuple[str, ...] = ()  # images and sounds the field uses, as named in it
    problems: tuple[str, ...] = ()  # what even the whole field as raw HTML still loses


class _Token(NamedTuple):
    kind: str  # text, tag, comment, math, sound, cloze (`{{cN::`), mark (`::`, `}}`)
    text: str  # as written
    start: int
    name: str = ""  # a tag's, lower case
    closing: bool = False
    attrs: str = ""


_TOKEN = re.compile(r"""
    (?P<comment><!--.*?(?:-->|\Z))
  | (?P<tag><(?P<end>/?)(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*)>)
  | (?P<math>\\\(.*?\\\)|\\\[.*?\\\])
  | (?P<sound>\[sound:[^\]]*\])
  | (?P<cloze>\{\{c\d+::)
  | (?P<mark>\}\}|::)""", re.S | re.X)
_ATTR = re.compile(r"""([^\s"'=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_VOID = {"br", "wbr", "img", "hr", "area", "col", "embed", "input", "source", "track"}
# tags the converter writes as Markdown without loss, with the attributes that allows
_PLAIN: dict[str, tuple[str, ...]] = dict.fromkeys(
    "b strong i em s del strike span div p ul li blockquote hr table thead tbody tr th td "
    "br wbr".split(), ()) | {"ol": ("start",), "a": ("href", "title", "target", "rel"),
                             "img": ("src", "alt"), "pre": ("class",), "code": ("class",)}
_LANGUAGE = re.compile(r"(?:language|lang)-[\w+#.-]+")
_INLINE = {"span", "font", "u", "sub", "sup", "mark", "small", "big", "abbr", "cite", "q",
           "ins", "tt", "kbd", "samp", "var", "b", "strong", "i", "em", "a", "s", "del",
           "strike", "code", "img", "label", "time", "dfn", "bdi", "bdo", "ruby"}
_EMPHASIS = {"b", "strong", "i", "em", "s", "del", "strike"}
# what may stand inside a `<pre>`, a `<code>` or a `<table>` the converter writes out
_INSIDE = {"pre": {"code", "span", "br"}, "code": {"span"},
           "table": {"thead", "tbody", "tr", "th", "td", "span", "code", "img", "a"} | _EMPHASIS}
_PROTECTED = ("math", "sound", "cloze", "mark")
# markdown-it reads these at a line's start as an HTML block to its end (CommonMark's 6th)
_BLOCK_START = set("address article aside blockquote center details dialog dd div dl dt "
                   "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li "
                   "main menu nav ol p pre section summary table tbody td th thead tr ul".split())
# Markdown-special characters of text, escaped through placeholders (the converter would
# escape the backslash); `\[` would open a formula for our renderer, so `](` is escaped
_SPECIAL = re.compile(r"[*`$~]|\](?=[(\[:]|$)|\\(?=[!-/:-@\[-`{-~]|$)|<(?=[A-Za-z/!?])"
                      r"|&(?=#?\w+;)|(?<![^\W_])_|_(?![^\W_])")
# what makes a block at a line's start (the converter escapes it only in some places)
_LINE_START = re.compile(r"^(\s*)([#>=]|[-+](?=\s|$|-)|\d{1,9}[.)](?=\s|$))")
_ESCAPES = {c: chr(0xF0000 + n) for n, c in enumerate("*`$~]\\<&_#>=-+.)")}
_PUA = re.compile("[\U000F0000-\U000FFFFD]")
_OPTIONS = ConversionOptions(extract_metadata=False, bullets="-", newline_style="backslash",
                             code_block_style="backticks", compact_tables=True)


def to_markdown(html: str, cloze: bool = False) -> Converted:
    """One field as Markdown, checked by `round_trip`; `cloze`: a cloze note's field."""
    media = media_of(html)
    if not html.strip():
        return Converted("", (), media)
    why = "it holds private-use characters" if _PUA.search(html) else ""
    if not why:
        try:
            text, kept = _Converter(html).run()
        except _Unconvertible as error:
            why = str(error)
        else:
            problems = round_trip(html, text, cloze)
            if not problems:
                return Converted(text, kept, media)
            why = "; ".join(problems)
    # an HTML block ends at a blank line: hide those (a newline in text as `&#10;`);
    # comments go, as a line `<!-- tags: x -->` would be read as the card's
    text = "<div>" + re.sub(r"\r?\n(?=[ \t\r]*(?:\n|\Z))", "&#10;", _COMMENT.sub("", html)) + \
        "</div>"
    return Converted(text, (f"whole field: {why}",), media, tuple(round_trip(html, text, cloze)))


def render_field(text: str, cloze: bool = False) -> tuple[str, list[str]]:
    """What this project's renderer makes of a field's Markdown, and its errors."""
    errors = []

    def warn(line: int, code: str, message: str, col: int = 1) -> None:
        if code.startswith("E"):
            errors.append(f"{code} {message}")

    env = RenderEnv(warn=warn, image=lambda src, line, written: written, cloze=cloze,
                    lines=text.split("\n"))
    return markdown.render_tokens(markdown.parse(text, env), env).strip(), errors


def round_trip(html: str, text: str, cloze: bool = False) -> list[str]:
    """What the field `html` loses as the Markdown `text`: each formula byte for byte (as
    MathJax reads it), the cloze markers, code, image names, links and visible text."""
    rendered, problems = render_field(text, cloze)
    before, after = _facts(html, cloze), _facts(rendered, cloze)
    for what, was in before.items():
        now = after[what]
        if what == "links":
            now = [link for link in was if link in now]  # linkify may add links
        if was != now:
            problems.append(f"{what} differ: {_shown(was)} became {_shown(now)}")
    return problems


class _Unconvertible(Exception):
    pass


class _Converter:
    """One field: tokens, placeholders, the converter's Markdown, placeholders restored."""

    def __init__(self, html: str):
        self.html, self.tokens = html, _tokens(html)
        self.restore = {key: "\\" + c for c, key in _ESCAPES.items()}  # placeholder: text
        self.kept: dict[str, None] = {}
        self.closes = _matching(self.tokens)

    def run(self) -> tuple[str, tuple[str, ...]]:
        out, raw_closes, i = [], set(), 0
        while i < len(self.tokens):
            token, end = self.tokens[i], self.closes.get(i, i)
            name = token.name
            if token.kind == "text":
                out.append(_escaped(token.text, self.line_start(i)))
            elif token.kind in _PROTECTED:
                out.append(self.placeholder(token))
            elif token.kind == "comment":
                pass  # invisible, and a `<!-- tags: -->` line would be read as the card's
            elif token.closing:
                out.append(self.keep(_flat(token.text)) if i in raw_closes else token.text)
            elif name == "br":
                last = self.br_run(i)
                out.append("<p></p>" if last > i else "<br>")  # `<br><br>`: a paragraph
                i = last
            elif name in ("script", "style", "textarea"):  # raw text: no `&#10;` in it
                raise _Unconvertible(f"it holds a <{name}>")
            elif name == "hr" and _plain(token):  # `---` could end front matter
                out.append(f"<div>{self.keep('***')}</div>")
            elif name in _INSIDE and not self.convertible(i, end):
                out.append(self.kept_raw(i, end))
                i = end
            elif name in ("pre", "code"):  # as written: the converter decodes its text
                out += [self.placeholder(t) if t.kind in _PROTECTED else t.text
                        for t in self.tokens[i : end + 1] if t.kind != "comment"]
                i = end
            elif _plain(token) and not (name in _EMPHASIS and self.glued(i, end)):
                out.append(token.text)
            elif name in _INLINE:  # its tags raw, its content Markdown
                self.kept.setdefault(_flat(token.text))
                out.append(self.keep(_flat(token.text)))
                raw_closes.add(end)
            else:
                out.append(self.kept_raw(i, end))
                i = end
            i += 1
        try:
            converted = convert("".join(out), _OPTIONS).content or ""
        except ConversionError as error:
            raise _Unconvertible(f"the converter failed: {error}") from None
        restored = _PUA.sub(lambda m: self.restore[m.group()], converted)
        return restored.strip(), tuple(self.kept)

    def placeholder(self, token: _Token) -> str:
        """A formula as MathJax reads it (our renderer escapes it again), or a cloze marker
        or sound as written."""
        text = token.text
        if token.kind == "math" and re.search(r"<[a-zA-Z/!]", text):
            raise _Unconvertible(f"the formula {_shown(text)} holds HTML tags")
        return self.keep(text[:2] + unescape(text[2:-2]) + text[-2:] if token.kind == "math"
                         else text)

    def keep(self, text: str) -> str:
        """A placeholder the converter leaves alone, for `text` in the Markdown."""
        key = chr(0xF0000 + len(self.restore))
        self.restore[key] = text
        return key

    def kept_raw(self, start: int, end: int) -> str:
        """Tokens start..end (one element) as raw HTML, a block of its own on one line
        (inside a list item too), in a `<div>` unless its tag starts an HTML block."""
        first, last = self.tokens[start], self.tokens[end]
        self.kept.setdefault(_flat(first.text))
        html = _flat(self.html[first.start : last.start + len(last.text)])
        if first.name not in _BLOCK_START:
            html = f"<div>{html}</div>"
        return f"<div>{self.keep(html)}</div>"

    def convertible(self, start: int, end: int) -> bool:
        """Whether the `<pre>`, `<code>` or `<table>` start..end loses nothing as Markdown:
        code of plain text, a table of a `<th>` row, then rows of as many `<td>`."""
        name, inside = self.tokens[start].name, [t for t in self.tokens[start + 1 : end]
                                                 if t.kind == "tag"]
        if not _plain(self.tokens[start]) or any(
                not _plain(t) or t.name not in _INSIDE[name] for t in inside):
            return False
        rows: list[list[str]] = []
        for t in inside:
            if t.name == "tr" and not t.closing:
                rows.append([])
            elif t.name in ("th", "td") and not t.closing and rows:
                rows[-1].append(t.name)
        return name != "table" or bool(rows and rows[0]) and set(rows[0]) == {"th"} and \
            all(row == ["td"] * len(rows[0]) for row in rows[1:])

    def glued(self, start: int, end: int) -> bool:
        """Whether `**`/`*`/`~~` around tokens start..end would not read as emphasis: a
        word glued to punctuation at its edge (`<b>Note:</b>text`)."""
        def char(i: int, step: int) -> str:
            while 0 <= i < len(self.tokens):
                token = self.tokens[i]
                if token.kind == "tag" and token.name not in _INLINE:
                    return " "
                text = unescape(token.text) if token.kind not in ("tag", "comment") else ""
                if text:
                    return text[-1] if step < 0 else text[0]
                i += step
            return " "

        def punctuation(c: str) -> bool:
            return not c.isalnum() and not c.isspace()

        return char(start - 1, -1).isalnum() and punctuation(char(start + 1, 1)) or \
            punctuation(char(end - 1, -1)) and char(end + 1, 1).isalnum()

    def line_start(self, i: int) -> bool:
        """Whether text token i may start a line of the Markdown: it follows the field's
        start, a `<br>` or a block's tag (comments aside)."""
        i -= 1
        while i >= 0 and self.tokens[i].kind == "comment":
            i -= 1
        return i < 0 or self.tokens[i].kind == "tag" and self.tokens[i].name not in _INLINE

    def br_run(self, i: int) -> int:
        """The last `<br>` of the run starting at token i (only spaces between them)."""
        last = j = i
        for token in self.tokens[i + 1 :]:
            j += 1
            if token.name == "br":
                last = j
            elif token.kind != "text" or token.text.strip():
                return last
        return last


def _tokens(html: str) -> list[_Token]:
    """Tags, comments, formulas, sounds and cloze markers; the text between them. `}}` and
    `::` are markers only inside a cloze."""
    out: list[_Token] = []
    at, clozes = 0, 0
    for m in _TOKEN.finditer(html):
        if m.start() > at:
            out.append(_Token("text", html[at : m.start()], at))
        kind = m.lastgroup or ""
        if kind == "cloze":
            clozes += 1
        elif kind == "mark" and not clozes:
            kind = "text"
        elif kind == "mark" and m.group() == "}}":
            clozes -= 1
        out.append(_Token(kind, m.group(), m.start(), (m.group("name") or "").lower(),
                          bool(m.group("end")), m.group("attrs") or ""))
        at = m.end()
    return out + [_Token("text", html[at:], at)] if at < len(html) else out


def _matching(tokens: list[_Token]) -> dict[int, int]:
    """Each element's opening tag's token index -> its closing tag's (or the last token)."""
    closes: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    for i, token in enumerate(tokens):
        if token.kind != "tag":
            continue
        if not token.closing:
            if token.name not in _VOID and not token.attrs.rstrip().endswith("/"):
                stack.append((token.name, i))
        elif any(name == token.name for name, _ in stack):
            while stack:
                name, at = stack.pop()
                closes[at] = i
                if name == token.name:
                    break
    closes.update((at, len(tokens) - 1) for _, at in stack)
    return closes


def _plain(tag: _Token) -> bool:
    """Whether the converter writes `tag` without loss: no style, no class but a code's
    language (a user's note type may style any class)."""
    allowed = _PLAIN.get(tag.name)
    return allowed is not None and all(
        name.lower() in allowed and (name.lower() != "class" or all(
            _LANGUAGE.fullmatch(c) for c in unescape(value.strip("\"'")).split()))
        for name, value in _ATTR.findall(tag.attrs) if tag.name not in ("br", "wbr"))


def _escaped(raw: str, line_start: bool) -> str:
    """Text, its Markdown-special characters as placeholders, as HTML again."""
    # a newline in HTML text is a space; the converter would read a blank line as a break
    text = re.sub(r"[ \t\r\n]*[\r\n][ \t\r\n]*", " ", unescape(raw))
    text = _SPECIAL.sub(lambda m: _ESCAPES[m.group()[0]], text)
    if line_start:
        text = _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] +
                               _ESCAPES[m.group(2)[-1]], text)
    return escape(text, quote=False)


def _flat(html: str) -> str:
    """`html` on one line: a newline in text as `&#10;`, in a tag as a space."""
    if "\n" not in html and "\r" not in html:
        return html
    return "".join(t.text.replace("\r", " ").replace("\n", " ") if t.kind in ("tag", "comment")
                   else t.text.replace("\r", "&#13;").replace("\n", "&#10;")
                   for t in _tokens(html))


# --- what a field shows, compared by `round_trip` --------------------------------------

_FORMULA = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_ANY_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
# tags that end a run of text (others, such as a highlighter's `<span>`, may split a word)
_BREAK = re.compile(r"<(?:br|p|div|li|ul|ol|tr|td|th|table|pre|blockquote|hr|h\d)\b[^>]*>"
                    r"|</(?:p|div|li|ul|ol|tr|td|th|table|pre|blockquote|h\d)>", re.I)
_PRE, _CODE = (re.compile(rf"<{t}\b.*?</{t}>", re.S | re.I) for t in ("pre", "code"))


def _facts(html: str, cloze: bool) -> dict[str, list[str]]:
    html = _COMMENT.sub("", html)
    if cloze:  # our renderer writes LaTeX's `}}` as `} }` in a cloze field (formulas.py)
        html = _FORMULA.sub(lambda m: separate_braces(m.group()), html)
    tags = [t for t in _tokens(html) if t.kind == "tag" and not t.closing]
    return {
        "formulas": [_mathjax(m.group()) for m in _FORMULA.finditer(html)],
        "cloze markers": re.findall(r"\{\{c\d+::|::|\}\}", html) if cloze else [],
        "code": [_code(m.group()) for m in _PRE.finditer(html)] +
                [_code(m.group()) for m in _CODE.finditer(_PRE.sub("", html))],
        "images": [f"{_attr(t, 'src')} {_attr(t, 'alt')}" for t in tags if t.name == "img"],
        "links": [_attr(t, "href") for t in tags if t.name == "a"],
        "text": [" ".join(unescape(_ANY_TAG.sub("", _BREAK.sub(" ", html))).split())],
    }


def _mathjax(formula: str) -> str:
    """A formula as MathJax reads it: entities decoded, a tag inside it not text."""
    return unescape(_ANY_TAG.sub(lambda m: f"\0{m.group()}\0", formula))


def _code(html: str) -> str:
    return unescape(_ANY_TAG.sub("", re.sub(r"(?i)<br\b[^>]*>", "\n", html))).strip("\n")


def _attr(tag: _Token, name: str) -> str:
    return next((unescape(value.strip("\"'")) for key, value in _ATTR.findall(tag.attrs)
                 if key.lower() == name), "")


def media_of(html: str) -> tuple[str, ...]:
    """Local files the field shows or plays, as named in it (not URLs)."""
    names = [unescape(t.text[7:-1]) if t.kind == "sound" else _attr(t, "src")
             for t in _tokens(html) if t.kind == "sound" or t.name == "img" and not t.closing]
    return tuple(dict.fromkeys(n for n in names if n and not _REMOTE.match(n)))


_REMOTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")


def _shown(value: object) -> str:
    return short(repr(value), 80)
