"""Code highlighting: our quicker way through Pygments' regex lexers must give exactly the
HTML Pygments itself gives, and must actually be quicker (it indexes rules)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from pygments import highlight as pygments_highlight

from generator import highlight, quicklex

# what cards hold code in; those whose lexers post-process tokens (C, C++, Ruby, PHP, ...)
# go through Pygments unchanged, and are checked here too
LANGUAGES = ("python javascript typescript java c cpp csharp go rust ruby php bash sql r "
             "haskell scala kotlin swift html css json yaml latex matlab julia lua perl "
             "elixir ocaml diff toml ini xml dockerfile").split()
HERE = Path(highlight.__file__).parent
SOURCES = [HERE / "highlight.py", HERE / "build.py", Path(
    pygments_highlight.__code__.co_filename).parent / "lexers" / "python.py"]
SNIPPETS = [
    'def step(w, grad, lr=0.01):\n    """One step."""\n    return [x - lr * g for x, g in '
    'zip(w, grad)]  # plain\n',
    'f"{x!r:>10}" rb\'\\x00\' 0x1F 1_000.5e-3j @decorator\nclass A(B, metaclass=M): pass\n',
    "const f = (a, b) => `${a + b}`; // sum\n/* block */ let re = /a+b/g;\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "SELECT name, COUNT(*) FROM cards WHERE deck = 'ML' GROUP BY name;\n",
    "fn main() { let v: Vec<u8> = vec![1, 2]; println!(\"{:?}\", v); }\n",
    "<div class=\"a\">&amp; <b>bold</b></div>\n\\frac{a}{b} $x^2$\n",
    "for i in $(seq 1 3); do echo \"$i\" | grep -q 2 && exit 1; done\n",
    "\t\tmixed\ttabs\r\nand CRLF\rline ends\n\n\n",
    "",
]


def expected(code: str, lang: str) -> str:
    return pygments_highlight(code, highlight._lexer(lang), highlight._formatter())


# off, every language again is Pygments against itself (4 s together): left to `make test`;
# the edit loop keeps test_the_switch_off_leaves_the_quick_lexer_alone
@pytest.fixture(params=[True, pytest.param(False, marks=pytest.mark.slow)],
                ids=["quick", "pygments"])
def switch(request, monkeypatch):
    """The quick lexer on, then off (`DECK_WITHOUT=lexer`)."""
    monkeypatch.setattr(quicklex, "ENABLED", request.param)
    return request.param


@pytest.mark.parametrize("lang", LANGUAGES)
def test_highlighting_is_pygments_own_output(lang, switch):
    assert highlight._lexer(lang) is not None, lang
    for code in SNIPPETS + [path.read_text(encoding="utf-8") for path in SOURCES]:
        assert highlight.highlight(code, lang) == (expected(code, lang), True)


@pytest.mark.fuzz
def test_highlighting_odd_text_is_pygments_own_output():
    characters = st.sampled_from(list("abcxyz019 \t\n\r'\"`\\#/*-+=<>(){}[]$%&@!?;:.,_~^|")
                                 + ["é", "λ", "→", "\u2028", "\x00", "𝔸"])

    @settings(max_examples=300, derandomize=True, deadline=None)
    @given(st.lists(characters, max_size=80).map("".join),
           st.sampled_from(["python", "javascript", "bash", "sql", "rust", "latex", "html"]))
    def same(code, lang):
        assert highlight.highlight(code, lang) == (expected(code, lang), True)

    same()


def test_the_quicker_way_is_taken_for_the_common_languages():
    """Not a speed test: the languages it serves, so a Pygments upgrade that changes how
    its lexers are built does not silently send every card the slow way."""
    served = [lang for lang in LANGUAGES if quicklex.indexable(highlight._lexer(lang))]
    for lang in ("python", "javascript", "java", "bash", "sql", "rust", "go", "latex"):
        assert lang in served


def test_a_lexer_with_flags_the_quick_way_cannot_judge_gives_pygments_tokens():
    """ASCII-only classes (`\\W` takes 'é' there) and case-insensitive groups."""
    import re

    from pygments.lexer import RegexLexer
    from pygments.token import Keyword, Name, Punctuation, Text

    class Tiny(RegexLexer):
        name = "tiny"
        flags = re.ASCII
        tokens = {"root": [(r"(?i:select)\b", Keyword), (r"\W", Punctuation), (r"\w+", Name),
                           (r"\s+", Text)]}

    lexer = Tiny(stripnl=False, ensurenl=True)
    for code in ("é SeLeCt x, y", "SELECT\u212a select_1", ""):
        text = lexer._preprocess_lexer_input(code)
        assert list(quicklex.tokens_unprocessed(lexer, text)) == list(
            lexer.get_tokens_unprocessed(text))


def test_the_switch_off_leaves_the_quick_lexer_alone(monkeypatch):
    def fail(*args):
        raise AssertionError("the quick lexer was asked")

    monkeypatch.setattr(quicklex, "get_tokens", fail)
    monkeypatch.setattr(quicklex, "ENABLED", False)
    assert highlight.highlight("x = 1\n", "python") == (expected("x = 1\n", "python"), True)
    monkeypatch.setattr(quicklex, "ENABLED", True)
    with pytest.raises(AssertionError, match="was asked"):
        highlight.highlight("x = 1\n", "python")


def test_the_switch_is_read_from_the_environment():
    def enabled(value: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if k != "DECK_WITHOUT"}
        if value is not None:
            env["DECK_WITHOUT"] = value
        return subprocess.run([sys.executable, "-c", "from generator import quicklex; "
                               "print(quicklex.ENABLED)"], env=env, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert [enabled(v) for v in (None, "", "exit", "lexer", "collector, lexer", "all")] == \
        ["True", "True", "True", "False", "False", "False"]


# The share of each lexer's rules (all states) that get a first-character test, measured
# with Pygments 2.21.0 on Python 3.11: (rules, share measured, floor). The floors sit a
# rule or few below, so a Python or Pygments upgrade that makes rules fall back fails here.
# JSON is not listed: Pygments' JsonLexer is hand-written, no RegexLexer. C's lexer
# post-processes tokens, so C goes through Pygments; its rules are measured all the same.
COVERAGE = {
    "python": (437, 0.991, 0.96),
    "javascript": (78, 0.949, 0.92),
    "typescript": (94, 0.957, 0.92),
    "c": (255, 0.984, 0.95),
    "bash": (189, 1.0, 0.97),
    "java": (48, 1.0, 0.95),
    "rust": (87, 0.931, 0.90),
    "latex": (51, 0.980, 0.94),
}

# Rule attempts (regex matches tried) lexing all SNIPPETS, Pygments' over ours, measured
# 13.3 (python), 4.7 (javascript), 10.0 (bash); floors a little below.
FEWER_ATTEMPTS = {"python": 10.0, "javascript": 3.5, "bash": 7.5}


def test_the_first_character_analysis_works_on_this_python():
    assert quicklex.probe() is None


@pytest.mark.parametrize("lang", COVERAGE)
def test_the_quick_lexer_indexes_most_rules(lang):
    rules, _, floor = COVERAGE[lang]
    found = quicklex.coverage(highlight._lexer(lang))
    assert found.problem is None
    assert found.rules == pytest.approx(rules, rel=0.2)  # still the lexer measured
    assert found.share >= floor, f"{lang}: {found.tested} of {found.rules} rules indexed"


class _Counted:
    """A rule's `Pattern.match`, counting calls (`__self__` is what the analysis reads)."""

    def __init__(self, match, calls: list[int]):
        self.__self__, self.match, self.calls = match.__self__, match, calls

    def __call__(self, text, pos):
        self.calls[0] += 1
        return self.match(text, pos)


def attempts(lang: str, code: str) -> tuple[int, int]:
    """Regex matches tried lexing `code`: by Pygments, and by the quick lexer."""
    model = highlight._lexer(lang)
    calls = [0]
    lexer = type(model)(stripnl=False, ensurenl=True)
    lexer._tokens = {state: [(_Counted(match, calls), *rest) for match, *rest in rules]
                     for state, rules in model._tokens.items()}
    text = lexer._preprocess_lexer_input(code)
    theirs = list(lexer.get_tokens_unprocessed(text))
    pygments_calls, calls[0] = calls[0], 0
    assert list(quicklex.tokens_unprocessed(lexer, text)) == theirs
    return pygments_calls, calls[0]


@pytest.mark.parametrize("lang", FEWER_ATTEMPTS)
def test_the_quick_lexer_tries_far_fewer_rules(lang):
    theirs, ours = attempts(lang, "".join(SNIPPETS))
    assert theirs >= FEWER_ATTEMPTS[lang] * ours, (theirs, ours)


@pytest.fixture
def without_re_parser(monkeypatch):
    """A Python whose `re._parser` is gone, as a release may do to a private module."""
    monkeypatch.delattr(re, "_parser")
    monkeypatch.setitem(sys.modules, "re._parser", None)
    monkeypatch.setattr(quicklex, "_INDEXES", {})  # no index built here outlives the test
    quicklex._problem.cache_clear()
    quicklex.indexable.cache_clear()
    yield
    quicklex._problem.cache_clear()
    quicklex.indexable.cache_clear()


def test_without_re_parser_the_fallback_is_reported_not_silent(without_re_parser):
    lexer = highlight._lexer("python")
    found = quicklex.coverage(lexer)
    assert found.tested == 0 and "re._parser is unavailable" in found.problem
    theirs, ours = attempts("python", SNIPPETS[0])
    assert ours == theirs  # what the tests above catch: every rule tried everywhere
    with pytest.warns(RuntimeWarning, match="slow way: re._parser is unavailable"):
        assert not quicklex.indexable(lexer)
    code = SNIPPETS[0]
    assert highlight.highlight(code, "python") == (expected(code, "python"), True)
