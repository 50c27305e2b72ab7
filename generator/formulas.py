"""Formulas for Anki's MathJax, as markdown-it rules (`markdown.py` installs them).

`$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]` are parsed before any emphasis or escape
rule runs, so the LaTeX inside reaches the field byte for byte (only `< > &` escaped), and
is written out as `\\(...\\)` or `\\[...\\]`, the only delimiters MathJax in Anki reads.
A formula left open is reported where it starts, with its column.
"""

from __future__ import annotations

import re
from html import escape
from typing import Sequence

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.dollarmath import dollarmath_plugin

from generator.diagnostics import short
from generator.model import RenderEnv


def install(md: MarkdownIt) -> None:
    """The formula rules, ahead of emphasis and escapes; their renderers; the check."""
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
    env = RenderEnv.of(state.env)
    warn = env.warn
    if warn is None or env.math_checked:
        return
    where = _Columns(env.lines)
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

    def __init__(self, lines: Sequence[str]):
        self.lines = lines
        self.cursor: dict[int, int] = {}

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
    if RenderEnv.of(env).cloze:
        latex = separate_braces(latex)
    if token.type == "math_inline":
        return "\\(" + escape(latex, quote=False) + "\\)"
    display = "\\[" + escape(latex.strip("\n"), quote=False) + "\\]"
    if token.type == "math_inline_double":  # in a paragraph: a box that scrolls too
        return f'<span class="math display">{display}</span>'
    return f'<div class="math">{display}</div>\n'


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
