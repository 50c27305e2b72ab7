"""Pygments behind one module: lexer lookup with a plain-text fallback, and the CSS.

Code is emitted with CSS classes only, so one card renders readably in both Anki's day
mode and its night mode (`nightMode`/`night_mode` on the card's body).
"""

from __future__ import annotations

import functools
import re
from html import escape

LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
NIGHT_SELECTORS = (".nightMode", ".night_mode")


@functools.lru_cache(maxsize=None)
def _lexer(lang: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def highlight(code: str, lang: str) -> tuple[str, bool]:
    """HTML for the inside of a `<code>` element, and whether `lang` was known.

    An empty `lang` is plain text without a finding; an unknown one falls back to plain
    text and the caller reports it.
    """
    lexer = _lexer(lang.lower()) if lang else None
    if lexer is None:
        return escape(code, quote=False), not lang
    from pygments import format as pygments_format, highlight as pygments_highlight

    if not _indexable(lexer):
        return pygments_highlight(code, lexer, _formatter()), True
    text = lexer._preprocess_lexer_input(code)  # what Lexer.get_tokens does first
    tokens = ((kind, value) for _, kind, value in _tokens(lexer, text))
    return pygments_format(tokens, _formatter()), True


# Pygments' regex lexers try a state's rules one after another at every position: for
# Python, about 40 regular expressions per token, a third of a build's time. `_tokens`
# gives the same tokens as `RegexLexer.get_tokens_unprocessed`, trying at each position
# only the rules whose match can begin with the character there (worked out once from
# each rule's parsed pattern; a rule it cannot tell about is always tried). Python lexes
# five times faster; a test compares its output with Pygments' own.


@functools.lru_cache(maxsize=None)  # asked for every code block; lexers are kept by _lexer
def _indexable(lexer) -> bool:
    from pygments.lexer import Lexer, RegexLexer

    kind = type(lexer)
    return (isinstance(lexer, RegexLexer) and not lexer.filters
            and kind.get_tokens_unprocessed is RegexLexer.get_tokens_unprocessed
            and kind.get_tokens is Lexer.get_tokens
            and hasattr(lexer, "_preprocess_lexer_input"))


class _RuleIndex:
    """A lexer class's rules by state and by the character a match starts with."""

    def __init__(self, tokendefs: dict):
        self.tokendefs = tokendefs
        self.tests: dict[str, list] = {}
        self.rules: dict[tuple[str, str], list] = {}

    def at(self, state: str, char: str) -> list:
        tests = self.tests.get(state)
        if tests is None:
            tests = self.tests[state] = [_first_chars(rule[0])
                                         for rule in self.tokendefs[state]]
        found = self.rules[state, char] = [
            rule for rule, test in zip(self.tokendefs[state], tests)
            if test is None or test.match(char)]
        return found


_INDEXES: dict[int, _RuleIndex] = {}  # by id of a lexer's rules (kept alive by the index)


def _tokens(lexer, text: str):
    """`RegexLexer.get_tokens_unprocessed(text)`, each position trying fewer rules."""
    from pygments.token import Error, Whitespace, _TokenType

    tokendefs = lexer._tokens  # usually the class's; some lexers pick theirs per instance
    index = _INDEXES.get(id(tokendefs))
    if index is None:
        index = _INDEXES[id(tokendefs)] = _RuleIndex(tokendefs)
    rules_at = index.rules
    pos = 0
    stack = ["root"]
    state = "root"
    while True:
        char = text[pos : pos + 1]
        rules = rules_at.get((state, char)) or index.at(state, char)
        for match, action, new_state in rules:
            m = match(text, pos)
            if not m:
                continue
            if action is not None:
                if type(action) is _TokenType:
                    yield pos, action, m.group()
                else:
                    yield from action(lexer, m)
            pos = m.end()
            if new_state is not None:
                if isinstance(new_state, tuple):
                    for name in new_state:
                        if name == "#pop":
                            if len(stack) > 1:
                                stack.pop()
                        elif name == "#push":
                            stack.append(stack[-1])
                        else:
                            stack.append(name)
                elif isinstance(new_state, int):
                    # pop, but keep at least one state on the stack
                    if abs(new_state) >= len(stack):
                        del stack[1:]
                    else:
                        del stack[new_state:]
                elif new_state == "#push":
                    stack.append(stack[-1])
                else:
                    raise ValueError(f"wrong state def: {new_state!r}")
                state = stack[-1]
            break
        else:  # no rule matched here
            if pos >= len(text):
                break
            if text[pos] == "\n":  # at the end of a line, back to the root state
                stack, state = ["root"], "root"
                yield pos, Whitespace, "\n"
            else:
                yield pos, Error, text[pos]
            pos += 1


def _first_chars(match):
    """A regex matching each character a match of the rule's pattern (`match` is its bound
    `Pattern.match`) can begin with, or None when that cannot be told (or the pattern can
    match nothing at all)."""
    try:
        from re import _constants as sre, _parser as parser

        pattern = match.__self__
        parsed = parser.parse(pattern.pattern, pattern.flags)
        if parsed.state.flags & re.ASCII:
            return None  # the tests are Unicode patterns: \W, \S would mean other things
        sources, empty = _starts(parsed.data, parsed.state.flags, sre)
        return None if empty or not sources else re.compile("|".join(sources))
    except Exception:  # an unknown construct, or a Python whose parser differs
        return None


def _starts(items, flags: int, sre) -> tuple[list[str], bool]:
    """Regex sources for the characters `items` can begin with, and whether they can
    match the empty string. Raises ValueError where it cannot tell."""
    found: list[str] = []
    for op, arg in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.IN):
            if op is sre.LITERAL:
                source = re.escape(chr(arg))
            elif op is sre.NOT_LITERAL:
                source = f"[^{re.escape(chr(arg))}]"
            else:
                source = _char_class(arg, sre)
            found.append(f"(?i:{source})" if flags & re.IGNORECASE else source)
            return found, False
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # takes no character (its condition is ignored: a larger set)
        if op is sre.SUBPATTERN:
            _, add, remove, inner = arg
            if add & re.ASCII:
                raise ValueError("ASCII")  # see _first_chars
            more, empty = _starts(inner, (flags | add) & ~remove, sre)
        elif op is sre.ATOMIC_GROUP:
            more, empty = _starts(arg, flags, sre)
        elif op is sre.BRANCH:
            more, empty = [], False
            for branch in arg[1]:
                sources, branch_empty = _starts(branch, flags, sre)
                more += sources
                empty = empty or branch_empty
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            least, _, inner = arg
            more, empty = _starts(inner, flags, sre)
            empty = empty or least == 0
        else:  # any character, a back-reference, ...
            raise ValueError(op)
        found += more
        if not empty:
            return found, False
    return found, True


def _char_class(items, sre) -> str:
    categories = {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D",
                  sre.CATEGORY_SPACE: r"\s", sre.CATEGORY_NOT_SPACE: r"\S",
                  sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W"}
    parts = []
    for op, arg in items:
        if op is sre.NEGATE:
            parts.append("^")
        elif op is sre.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op is sre.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op is sre.CATEGORY and arg in categories:
            parts.append(categories[arg])
        else:
            raise ValueError(op)
    return f"[{''.join(parts)}]"


def _rule(selector: str, style: dict, fallback_color: str) -> str:
    parts = [f"color: #{style['color'] or fallback_color}"]
    if style["bgcolor"]:
        parts.append(f"background-color: #{style['bgcolor']}")
    parts.append(f"font-weight: {'bold' if style['bold'] else 'normal'}")
    parts.append(f"font-style: {'italic' if style['italic'] else 'normal'}")
    if style["underline"]:
        parts.append("text-decoration: underline")
    return f"{selector} {{ {'; '.join(parts)} }}"


def _style_css(style_name: str, scopes: tuple[str, ...], default_color: str) -> list[str]:
    """Every token class gets a complete rule, so no day colour leaks into night mode."""
    from pygments.styles import get_style_by_name
    from pygments.token import STANDARD_TYPES, Token

    style = get_style_by_name(style_name)
    base = style.style_for_token(Token)["color"] or default_color
    box = ", ".join(f"{s} pre.highlight".strip() for s in scopes)
    rules = [f"{box} {{ background-color: {style.background_color}; color: #{base} }}"]
    for token, cls in sorted(STANDARD_TYPES.items(), key=lambda item: item[1]):
        if not cls:
            continue
        selector = ", ".join(f"{s} pre.highlight .{cls}".strip() for s in scopes)
        rules.append(_rule(selector, style.style_for_token(token), base))
    return rules


@functools.lru_cache(maxsize=1)
def css() -> str:
    """Day rules, then night rules scoped under both night-mode classes."""
    light = _style_css(LIGHT_STYLE, ("",), "1f2328")
    dark = _style_css(DARK_STYLE, NIGHT_SELECTORS, "e6edf3")
    return "\n".join(light + dark) + "\n"
