"""The quick lexer: Pygments' regex lexers, trying at each position only the rules that can
match there.

`RegexLexer.get_tokens_unprocessed` tries a state's rules one after another at every
position: for Python about 40 regular expressions per token, most failing on the first
character. `tokens_unprocessed` gives the same tokens, trying at each position only the
rules whose match can begin with the character there, worked out once per rule from its
pattern parsed with `re._parser` (a rule it cannot tell about is always tried, so the first
rule to match is still the one Pygments would take).

Measured benefit (benchmarks/lexer.py: 2,000 code blocks, 20,706 lines, highlighting =
lexing + HTML, Python 3.11, Pygments 2.21.0, a busy 2-core machine, six runs): Python
3.0-3.5x faster, JavaScript 1.4-1.7x, Bash 1.4-2.0x; the whole corpus 1.62-1.75x, C
included, which goes through Pygments either way (0.96-1.11x: the noise). Lexing the test
snippets tries 13x fewer regexes for Python, 10x for Bash, 4.7x for JavaScript.

Turn it off with `DECK_WITHOUT=lexer` (read once, at import; see speedups.py) or by
setting `ENABLED` to False; `highlight` then calls Pygments' own `highlight`, whose output is byte-identical
(tests/test_highlight.py compares the two on every language cards use).

`re._parser` is private. Should a Python release move or change it, every rule would be
tried everywhere again: output unchanged, highlighting slower. `probe()` and `coverage()`
say so, `indexable` warns and hands over to Pygments, and the tests on coverage and
on rules tried per position fail.

When this copy can go: Pygments pull request #3262, "Speed up RegexLexer with
first-character rule dispatch" (open), does the same inside `RegexLexer`: per state a
character -> rules table from each pattern's syntax tree, uncertain rules tried
everywhere; it reports byte-identical output on Pygments' example files and lexing about
2x faster. This copy can go when a Pygments release ships #3262 and pyproject pins it:
compare benchmarks/lexer.py with this module switched off, and the attempts counted by
tests/test_highlight.py::test_the_quick_lexer_tries_far_fewer_rules; if Pygments alone is
within noise, delete this module and the seam in highlight.py. (#3155, also open, merges
runs of simple rules into one regex; should it land, the rule counts in the coverage test
change and that test says so.)
"""

from __future__ import annotations

import dataclasses
import functools
import re
import warnings

from generator import speedups

ENABLED = speedups.enabled("lexer")


@dataclasses.dataclass(frozen=True)
class Coverage:
    """How many of a lexer's rules the first-character analysis gives a test for."""

    rules: int
    tested: int
    problem: str | None  # why the analysis does not work on this Python, if it does not

    @property
    def share(self) -> float:
        return self.tested / self.rules if self.rules else 0.0


# patterns with the first characters their matches can begin with, and some they cannot
_PROBES = ((r"[a-z_]\w*", "q_", "1 ("), (r"\s+", " \t\n", "a#"), (r"(?:if|else)\b", "ie", "x "),
           (r"#.*?$", "#", "a"), (r"(?i)select", "sS", "x"))


def probe() -> str | None:
    """None when the first-character analysis works on this Python, else why not."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]  # noqa: F401
    except ImportError as error:
        return f"re._parser is unavailable ({error})"
    for pattern, starts, others in _PROBES:
        test = first_chars(re.compile(pattern).match)
        if test is None:
            return f"re._parser gives no first characters for {pattern!r}"
        if not all(test.match(c) for c in starts) or any(test.match(c) for c in others):
            return f"re._parser gives wrong first characters for {pattern!r}"
    return None


_problem = functools.lru_cache(maxsize=1)(probe)  # for the build: asked once a process


def coverage(lexer) -> Coverage:
    """The share of the lexer's rules (all states) that get a first-character test."""
    tokendefs = getattr(lexer, "_tokens", None) or {}
    tests = [first_chars(rule[0]) for rules in tokendefs.values() for rule in rules]
    return Coverage(len(tests), sum(test is not None for test in tests), probe())


@functools.lru_cache(maxsize=None)  # asked for every code block; lexers are kept by the caller
def indexable(lexer) -> bool:
    """Whether `get_tokens(lexer, code)` may stand in for `lexer.get_tokens(code)`: a plain
    RegexLexer without filters, and an analysis that works on this Python."""
    from pygments.lexer import Lexer, RegexLexer

    kind = type(lexer)
    if not (isinstance(lexer, RegexLexer) and not lexer.filters
            and kind.get_tokens_unprocessed is RegexLexer.get_tokens_unprocessed
            and kind.get_tokens is Lexer.get_tokens
            and hasattr(lexer, "_preprocess_lexer_input")):
        return False
    problem = _problem()
    if problem is not None:  # every rule would be tried anyway: Pygments' loop does that
        warnings.warn(f"code highlighting takes the slow way: {problem}", RuntimeWarning,
                      stacklevel=2)
        return False
    return True


def get_tokens(lexer, code: str):
    """`lexer.get_tokens(code)` for a lexer `indexable` accepts."""
    text = lexer._preprocess_lexer_input(code)  # what Lexer.get_tokens does first
    return ((kind, value) for _, kind, value in tokens_unprocessed(lexer, text))


class RuleIndex:
    """A lexer's rules by state and by the character a match starts with."""

    def __init__(self, tokendefs: dict):
        self.tokendefs = tokendefs
        self.tests: dict[str, list] = {}
        self.rules: dict[tuple[str, str], list] = {}

    def at(self, state: str, char: str) -> list:
        tests = self.tests.get(state)
        if tests is None:
            tests = self.tests[state] = [first_chars(rule[0])
                                         for rule in self.tokendefs[state]]
        found = self.rules[state, char] = [
            rule for rule, test in zip(self.tokendefs[state], tests)
            if test is None or test.match(char)]
        return found


_INDEXES: dict[int, RuleIndex] = {}  # by id of a lexer's rules (kept alive by the index)


def tokens_unprocessed(lexer, text: str):
    """`RegexLexer.get_tokens_unprocessed(text)`, each position trying fewer rules."""
    from pygments.token import Error, Whitespace, _TokenType

    tokendefs = lexer._tokens  # usually the class's; some lexers pick theirs per instance
    index = _INDEXES.get(id(tokendefs))
    if index is None:
        index = _INDEXES[id(tokendefs)] = RuleIndex(tokendefs)
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


def first_chars(match):
    """A regex matching each character a match of the rule's pattern (`match` is its bound
    `Pattern.match`) can begin with, or None when that cannot be told (or the pattern can
    match nothing at all)."""
    try:
        from re import _constants as sre, _parser as parser  # type: ignore[attr-defined]

        pattern = match.__self__
        parsed = parser.parse(pattern.pattern, pattern.flags)
        if parsed.state.flags & re.ASCII:
            return None  # the tests are Unicode patterns: \W, \S would mean other things
        sources, empty = _starts(parsed.data, parsed.state.flags, sre)
        return None if empty or not sources else re.compile("|".join(sources))
    except Exception:  # an unknown construct, or a Python whose parser differs (see probe)
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
                raise ValueError("ASCII")  # see first_chars
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
