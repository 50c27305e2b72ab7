"""Code highlighting: our quicker way through Pygments' regex lexers must give exactly the
HTML Pygments itself gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from pygments import highlight as pygments_highlight

from generator import highlight

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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_highlighting_is_pygments_own_output(lang):
    assert highlight._lexer(lang) is not None, lang
    for code in SNIPPETS + [path.read_text(encoding="utf-8") for path in SOURCES]:
        assert highlight.highlight(code, lang) == (expected(code, lang), True)


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
    served = [lang for lang in LANGUAGES if highlight._indexable(highlight._lexer(lang))]
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
        assert list(highlight._tokens(lexer, text)) == list(lexer.get_tokens_unprocessed(text))
