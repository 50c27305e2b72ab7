"""markdown-it-py behind one module: CommonMark + GFM tables and strikethrough, front
matter, and math for Anki's MathJax.

`$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]` are parsed before any emphasis or escape
rule runs, so the LaTeX inside reaches the field byte for byte (only `< > &` escaped).
"""

from __future__ import annotations

import functools
import re
from html import escape, unescape
from typing import Any, Callable, Iterator

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import image as image_rule
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from generator import highlight
from generator.diagnostics import short

# env keys a caller passes: warn (callable(line, code, message), line 0-based in the text),
# image (callable(src, line, written) -> the stored name or None; `written` is the src as
# the source has it, for messages), cloze (bool: the text is a cloze field), math_checked
# (bool: formulas were already checked when the file was parsed)
RenderEnv = dict[str, Any]


def _bracket_inline(state: StateInline, silent: bool) -> bool:
    """`\\(...\\)` inline and `\\[...\\]` inside a paragraph."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    closer = "\\)" if src[pos + 1] == "(" else "\\]"
    end = src.find(closer, pos + 2)
    if end == -1 or end + 2 > state.posMax:
        return False
    if not silent:
        token = state.push("math_inline" if closer == "\\)" else "math_inline_double", "math", 0)
        token.content = src[pos + 2 : end]
        token.markup = src[pos : pos + 2]
    state.pos = end + 2
    return True


def _bracket_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`\\[` opening a line, up to the line that ends with `\\]`."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    begin = state.bMarks[start] + state.tShift[start]
    if not state.src.startswith("\\[", begin):
        return False
    line = start
    while line < end:
        text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]].rstrip()
        first = line == start
        if text.endswith("\\]") and (not first or len(text) >= 4):
            break
        if not first and not text:
            return False  # a blank line: not a display formula
        line += 1
    else:
        return False
    if silent:
        return True
    body = state.src[begin + 2 : state.eMarks[line]].rstrip()
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = body[:-2]
    token.map = [start, line + 1]
    token.markup = "\\["
    state.line = line + 1
    return True


_CLOZE_OPEN = re.compile(r"\{\{c\d+::")


def separate_braces(latex: str) -> str:
    """Write LaTeX's `}}` as `} }` so Anki's cloze parser does not end a cloze there,
    keeping the `}}` that closes a cloze written inside the formula (`$x={{c1::2}}$`)."""
    out, i, open_clozes = [], 0, []  # brace depth inside each open cloze
    while i < len(latex):
        opening = _CLOZE_OPEN.match(latex, i)
        if opening:
            open_clozes.append(0)
            out.append(opening.group())
            i = opening.end()
            continue
        char = latex[i]
        if char == "\\":
            out.append(latex[i : i + 2])
            if latex[i + 1 : i + 2] == "}" and latex.startswith("}", i + 2):
                out.append(" ")
            i += 2
            continue
        if char == "}" and open_clozes and open_clozes[-1] == 0 and latex.startswith("}}", i):
            open_clozes.pop()
            out.append("}}")
            i += 2
            continue
        out.append(char)
        if char == "{" and open_clozes:
            open_clozes[-1] += 1
        elif char == "}":
            if open_clozes:
                open_clozes[-1] -= 1
            if latex.startswith("}", i + 1):
                out.append(" ")  # LaTeX ignores it
        i += 1
    return "".join(out)


# A `$` that looks like it opens a formula (followed by neither space, digit nor `$`)
# but was left as text: its formula was never closed.
_STRAY_DOLLAR = re.compile(r"(?<![\\\w$])\$\$?(?=[^\s\d$])")
_MATH = ("math_inline", "math_inline_double", "math_block")


# `$ x_t $`: not a formula by the pandoc rule (no space inside the dollars), though its
# content looks like one, so Markdown reads its `_` and `*` as emphasis
_PADDED = re.compile(r"(?<![\\$\w])\$(\s*)([^$\s][^$\n]*?)(\s*)\$(?![\d$])")
_MATHLIKE = re.compile(r"[\\_^{}=]")


def _check_math(state) -> None:
    """Core rule, before escapes are merged into text: report unclosed and empty formulas,
    and `$ ... $` pairs that are no formula only because of the spaces inside them."""
    warn = state.env.get("warn") if isinstance(state.env, dict) else None
    if warn is None or state.env.get("math_checked"):
        return
    where = _Columns(state.env.get("lines"))
    for token in state.tokens:
        if token.type in _MATH and not token.content.strip():
            warn(token.map[0] if token.map else 0, "E202", "empty formula")
        if not token.children or ("$" not in token.content and "\\" not in token.content):
            continue  # no formula and no dollar sign in this paragraph or heading
        line = first = token.map[0] if token.map else 0
        for at, message, text in _unclosed_display(token.content):
            line_at = first + token.content.count("\n", 0, at)
            warn(line_at, "E201", message, where.col(line_at, text))
        padded = set()
        for match in _PADDED.finditer(token.content):
            if (match.group(1) or match.group(3)) and _MATHLIKE.search(match.group(2)):
                at = first + token.content.count("\n", 0, match.start())
                padded.add(at)
                warn(at, "W204", f"'{short(match.group(), 40)}' is not a formula: a '$' "
                     "formula has no space just inside its dollars, so Markdown reads its "
                     "'_' and '*' as emphasis; write it without those spaces, or as "
                     "'\\(...\\)'", where.col(at, match.group()))
        dollars = 0
        for child in token.children:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type in _MATH and not child.content.strip():
                warn(line, "E202", "empty formula")
            elif child.type in ("em_open", "strong_open") and dollars % 2 and \
                    line not in padded:
                padded.add(line)
                warn(line, "W204", "emphasis between two '$': if they hold a formula, "
                     "write it without spaces just inside the dollars, or as '\\(...\\)'",
                     where.col(line, "$"))
            elif child.type == "text" and "$" in child.content:
                dollars += child.content.count("$") - child.content.count("\\$")
                offset = where.col(line, child.content) - 1
                for stray in _STRAY_DOLLAR.finditer(child.content):
                    warn(line, "E201", f"'{stray.group()}' opens a formula that is never "
                         "closed (the closing '$' must follow text, not a space); write "
                         "'\\$' for a dollar sign", offset + stray.start() + 1)


_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
_BRACKET_OPEN = re.compile(r"(?<!\\)(?:\\\\)*(\\[\[(])")
_DOUBLE = re.compile(r"(?<![\\$])\$\$(?!\$)")


def _unclosed_display(content: str) -> list[tuple[int, str, str]]:
    """`\\[`, `\\(` and `$$` that open a formula never closed in this paragraph (code
    spans aside): markdown-it shows them as text (`\\[` even loses its backslash)."""
    brackets = "\\[" in content or "\\(" in content
    if "$$" not in content and not brackets:
        return []
    if "`" in content:
        content = _CODE_SPAN.sub(lambda m: " " * len(m.group()), content)
    found = []
    for opening in _BRACKET_OPEN.finditer(content) if brackets else ():
        mark = opening.group(1)
        closer = "\\]" if mark == "\\[" else "\\)"
        if content.find(closer, opening.end()) == -1:
            found.append((opening.start(1), f"'{mark}' opens a formula that is never closed "
                          f"with '{closer}'; write '\\{mark}' for a backslash before "
                          "a bracket", mark))
    doubles = list(_DOUBLE.finditer(content))
    if len(doubles) % 2:
        found.append((doubles[-1].start(), "'$$' opens a display formula that is never "
                      "closed with '$$'; write '\\$\\$' for two dollar signs", "$$"))
    return found


class _Columns:
    """Columns of text found in the source lines, searched left to right on each line
    (inline tokens carry only the line they start on)."""

    def __init__(self, lines: list[str] | None):
        self.lines, self.cursor = lines or [], {}

    def col(self, line: int, text: str) -> int:
        if not 0 <= line < len(self.lines):
            return 1
        found = self.lines[line].find(text, self.cursor.get(line, 0))
        if found == -1:
            return 1
        self.cursor[line] = found + 1
        return found + 1


def _math(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    latex = token.content
    if env.get("cloze"):
        latex = separate_braces(latex)
    if token.type == "math_inline":
        return "\\(" + escape(latex, quote=False) + "\\)"
    display = "\\[" + escape(latex.strip("\n"), quote=False) + "\\]"
    if token.type == "math_inline_double":  # in a paragraph: a box that scrolls too
        return f'<span class="math display">{display}</span>'
    return f'<div class="math">{display}</div>\n'


def _fence(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    lang = fence_language(token.info)  # empty for an indented code block
    html, known = highlight.highlight(token.content, lang)
    if not known and "warn" in env:
        env["warn"](token.map[0] if token.map else 0, "W301",
                    f"unknown code language '{lang}'; rendered as plain text")
    cls = f' class="language-{escape(lang)}"' if lang else ""
    return f'<pre class="highlight"><code{cls}>{html}</code></pre>\n'


_PANDOC_CLASS = re.compile(r"[{\s]\.([^\s.}=]+)")


def fence_language(info: str) -> str:
    """The language a fence's info string names: its first word, with backslash escapes
    and entities resolved as CommonMark does (` ```c\\+\\+ `), or the first class of a
    pandoc attribute list (` ```{.python .input} `)."""
    info = unescapeAll(info).strip()
    if info.startswith("{"):
        first = _PANDOC_CLASS.search(info)
        return first.group(1) if first else ""
    return info.split(maxsplit=1)[0] if info else ""


def _outside_code_spans(rule):
    """`rule` (a formula), unless its closing delimiter lies inside a code span that opens
    within it: a code span binds tighter, as CommonMark makes it bind tighter than links
    and emphasis (`Price $4, see `$PATH` here` holds no formula)."""
    def guarded(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if state.src.find("`", start, state.posMax) == -1:
            return rule(state, silent)  # no code span after it: nothing to cross
        if not rule(state, True):
            return False
        end, state.pos = state.pos, start
        if "`" in state.src[start:end] and _crosses_code_span(state.src, start, end):
            return False
        return rule(state, silent)

    return guarded


_BACKTICKS = re.compile(r"`+")


def _crosses_code_span(src: str, start: int, end: int) -> bool:
    """Whether a run of backticks inside src[start:end] opens a code span that closes at
    or after `end` (a run without a closing run of the same length is literal text)."""
    for run in _BACKTICKS.finditer(src, start, end):
        closer = re.compile(r"(?<!`)" + "`" * len(run.group()) + r"(?!`)")
        closing = closer.search(src, run.end())
        if closing is not None and closing.start() >= end - 1:
            return True
        if closing is not None:
            return _crosses_code_span(src, closing.end(), end)
    return False


def _image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = escape(_plain(token.children or []))
    resolve: Callable | None = env.get("image")
    if resolve is not None:
        # a reference image keeps no written form: its src made readable again
        written = token.meta.get("written") or parser().normalizeLinkText(src)
        stored = resolve(src, token.map[0] if token.map else 0, written)
        if stored is not None:
            src = stored
    title = token.attrGet("title")
    extra = f' title="{escape(title)}"' if title else ""
    return f'<img src="{escape(src)}" alt="{alt}"{extra}>'


# --- images where the author wrote them: `![](src)` as written, `<img src>` in raw HTML ---

def _image_as_written(state: StateInline, silent: bool) -> bool:
    """markdown-it's image rule, keeping the destination as the source has it (the token's
    src is percent-encoded) in `meta["written"]`, for messages."""
    start = state.pos
    if not image_rule(state, silent):
        return False
    if not silent:
        token = state.tokens[-1]
        pos = start + 3 + len(token.content)  # past `![`, the alt text and `]`
        if state.src.startswith("(", pos):
            pos += 1
            while pos < state.posMax and state.src[pos] in " \t\n":
                pos += 1
            found = state.md.helpers.parseLinkDestination(state.src, pos, state.posMax)
            if found.ok:
                written = state.src[pos : found.pos]
                token.meta["written"] = written[1:-1] if written.startswith("<") else written
    return True


# names as markdown-it reads them: no `<` in them, so a stray `<img` costs no backtracking
_ATTRIBUTE = re.compile(
    r"""\s+([a-zA-Z_:][a-zA-Z0-9:._-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_IMG = re.compile(rf"<img(?=[\s/>])((?:{_ATTRIBUTE.pattern})*)\s*/?>", re.I)


def _raw_images(self, tokens, idx, options, env) -> str:
    """HTML written in the Markdown, its `<img src>` resolved like `![](src)`: GitHub
    READMEs size pictures with `<img src="diagram.png" width="300">`."""
    token = tokens[idx]
    html = token.content
    resolve: Callable | None = env.get("image")
    if resolve is None or "<img" not in html.lower():
        return html
    first = token.map[0] if token.map else 0
    out, done = [], 0
    for tag in _img_tags(html):
        attributes = tag.start(1)
        src = next((a for a in _ATTRIBUTE.finditer(tag.group(1))
                    if a.group(1).lower() == "src" and a.group(2)), None)
        if src is None:
            continue
        start, end = attributes + src.start(2), attributes + src.end(2)
        written = html[start:end]
        quoted = written[:1] in ("'", '"')
        if quoted:
            start, end, written = start + 1, end - 1, written[1:-1]
        stored = resolve(unescape(written), first + html.count("\n", 0, start), written)
        if stored is not None:
            out += [html[done:start], stored]  # a stored name needs no quoting
            done = end
    return "".join(out) + html[done:]


def _img_tags(html: str) -> Iterator[re.Match[str]]:
    """The `<img>` tags a browser shows: none inside `<!-- -->` (an unclosed one hides the
    rest)."""
    start = 0
    while (opening := html.find("<!--", start)) != -1:
        yield from _IMG.finditer(html, start, opening)
        closing = html.find("-->", opening + 4)
        if closing == -1:
            return
        start = closing + 3
    yield from _IMG.finditer(html, start)


def _plain(children) -> str:
    return "".join(c.content if c.type != "image" else _plain(c.children or []) for c in children)


def _table_open(self, tokens, idx, options, env) -> str:
    # a wrapper lets a wide table scroll on a phone instead of widening the card
    return '<div class="table">\n<table>\n'


def _table_close(self, tokens, idx, options, env) -> str:
    return "</table>\n</div>\n"


# markdown-it stops reading a document nested deeper than this (and drops the rest); its
# default, 20, is reached by a list ten levels deep, which GitHub renders
MAX_NESTING = 100


@functools.lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """The one parser instance; it keeps no state between documents."""
    md = MarkdownIt("commonmark", {"typographer": False, "maxNesting": MAX_NESTING,
                                   "linkify": True}
                    ).enable(["table", "strikethrough", "linkify"])
    # bare URLs become links, as on GitHub; not bare domains (`file.py` is no address)
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    pretest = md.linkify.pretest  # a fifth of a build, asked of every paragraph
    md.linkify.pretest = lambda text: ("//" in text or "mailto:" in text) and pretest(text)
    md.core.ruler.disable("normalize")  # done by `_normalized`, only when needed
    front_matter_plugin(md)
    # no blank line inside `$$`, as on GitHub and in LaTeX: a `$$` left open cannot swallow
    # the cards below it
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False,
                      allow_blank_lines=False, double_inline=True)
    dollar = next(r.fn for r in md.inline.ruler.__rules__ if r.name == "math_inline")
    md.inline.ruler.at("math_inline", _outside_code_spans(dollar))
    md.inline.ruler.before("escape", "math_brackets", _outside_code_spans(_bracket_inline))
    md.block.ruler.before("paragraph", "math_brackets_block", _bracket_block,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    md.core.ruler.before("text_join", "check_math", _check_math)
    for name in _MATH:
        md.add_render_rule(name, _math)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("image", _image)
    md.inline.ruler.at("image", _image_as_written)
    md.add_render_rule("html_block", _raw_images)
    md.add_render_rule("html_inline", _raw_images)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("table_close", _table_close)
    return md


def parse(text: str, env: RenderEnv | None = None) -> list[Token]:
    """Block tokens of `text`; inline images carry their own line (for messages)."""
    tokens = parser().parse(_normalized(text), {} if env is None else env)
    _image_lines(tokens)
    return tokens


def render_tokens(tokens: list[Token], env: RenderEnv) -> str:
    md = parser()
    return md.renderer.render(tokens, md.options, env)


def render_inline_tokens(children: list[Token], env: RenderEnv) -> str:
    md = parser()
    return md.renderer.renderInline(children, md.options, env)


def has_raw_html(tokens: list[Token]) -> bool:
    return any(t.type == "html_block" or any(c.type == "html_inline" for c in t.children or ())
               for t in tokens)


def _image_lines(tokens: list[Token]) -> None:
    for token in tokens:
        # inline tokens carry no line; give images their own, for messages
        breaks = 0
        for child in token.children or ():
            if child.type in ("softbreak", "hardbreak"):
                breaks += 1
            elif child.type in ("image", "html_inline") and token.map:
                child.map = [token.map[0] + breaks, token.map[0] + breaks + 1]
            if child.type == "html_inline":
                breaks += child.content.count("\n")  # a tag may span lines


def parse_inline(text: str, env: RenderEnv) -> list[Token]:
    return parser().parseInline(_normalized(text), env)


def _normalized(text: str) -> str:
    """What markdown-it's `normalize` rule does (switched off in `parser`): sources come
    read with `\n` line ends and without NUL, so this is a quick look, not a rewrite of
    every line end of a 10 MB file."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\0", "\ufffd") if "\0" in text else text
