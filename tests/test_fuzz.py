"""Property tests: whatever a user writes, `deck build` either builds a package that Anki
imports cleanly (exit 0) or reports located errors and writes nothing (exit 1). It never
exits 2 (an internal error) and never lets an exception escape `main`.

Reproducible: `derandomize=True` and no example database, so every run (and CI) tries the
same examples. Each example gets its own temporary project and Anki collection.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from generator.cli import main
from tests.conftest import PNG, Anki

pytestmark = [pytest.mark.fuzz, pytest.mark.anki]  # each example is imported into Anki

LOCATED_ERROR = re.compile(r"^[^:]+:\d+:\d+: E\d{3} ")
SUMMARY = re.compile(r"built (\S+): (\d+) decks?, (\d+) notes? \((\d+) new, (\d+) changed, "
                     r"(\d+) unchanged, (\d+) removed from sources\), (\d+) media files?, "
                     r"\d+\.\d\d s")
FUZZ = settings(deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no slow 'explain'
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_deck(root: Path, *args: str) -> tuple[int, str, str]:
    """`deck ARGS` in `root`, as a user runs it; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    env = {"SOURCE_DATE_EPOCH": "1800000000"}
    os.chdir(root)
    try:
        with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            os.environ.pop("DECK_DEBUG", None)
            code = main(list(args))
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def new_project(folder: Path) -> Path:
    root = folder / "project"
    (root / "source").mkdir(parents=True)
    (root / "media").mkdir()
    (root / "media" / "x.png").write_bytes(PNG)
    (folder / "outside.png").write_bytes(PNG)
    return root


def packages(root: Path) -> list[str]:
    build = root / "build"
    # build/cache/ holds rendered cards, build/memory/ the last lock written: both written
    # only after a successful build
    return sorted(p.name for p in build.iterdir() if p.name not in ("cache", "memory")
                  ) if build.is_dir() else []


def hidden(root: Path) -> list[str]:
    return sorted(p.name for folder in (root / "build", root / "source") if folder.is_dir()
                  for p in folder.rglob(".*") if p.name != ".gitignore")


def assert_failed_cleanly(root: Path, out: str, err: str) -> None:
    assert any(LOCATED_ERROR.match(line) for line in err.splitlines()), err
    assert out == ""
    assert packages(root) == [], "a package was written despite errors"
    assert not (root / "build" / "cache").exists(), "the cache was written despite errors"
    assert not (root / "source" / "deck.lock").exists(), "a lock was written despite errors"
    assert hidden(root) == []


# --- (a) Markdown-ish text --------------------------------------------------------------

WORD = st.text(st.sampled_from("abcxyz XYZ019.,;'éλ中😀-"), min_size=1, max_size=12).filter(
    lambda s: s.strip())
TEXT = st.one_of(WORD, st.text(max_size=12))  # the second: any unicode, controls included
FIXED = st.sampled_from([
    "?", " ? ", "$x^2$", "$", "$$", "$$\\frac{a}{b}$$", "$$\n\\sum_i x_i\n$$", "\\(a < b\\)",
    "\\(", "\\)", "\\[x\\]", "\\[", "\\]", "\\$", "$5 and $10", "$ x $", "$$}}$$",
    "{{c1::", "{{c1::Paris}}", "{{c2::x::hint}}", "}}", "{{c1::$x^{2}$}}", "{{c3::a}}",
    "{{c0::a}}", "{{C1::a}}",
    "<!-- id: x -->", "<!-- id: -->", "<!-- id: a b -->", "<!-- tags: a b -->",
    "<!-- type: cloze -->", "<!-- type: reversed -->", "<!-- type: nope -->", "<!--", "-->",
    "<div>", "</div>", "<span class='x'>", "</span>", "<br>", "<hr>", "<script>x()</script>",
    "<style>p{}</style>", "&amp;", "&nbsp;", "<", ">", "&",
    "![a](x.png)", "![b](missing.png)", "![c](../../outside.png)", "![d](X.PNG)",
    "![e](https://example.com/a.png)", "![](x.png)", "![f](media/../x.png)", "![g]()",
    "- item", "  - nested", "1. one", "* star", "> quote", "- [ ] task",
    "| a | b |\n| - | - |\n| 1 | 2 |", "| a |\n|---|", "---", "***",
    "---\ntags: [a, b]\n---", "---\ndeck: Fuzz\n---", "---\ntype: cloze\n---",
    "---\ntags: [a b]\n---", "---\n: :\n---", "---\n- x\n---",
    "`code`", "``", "**bold**", "_em_", "~~del~~", "    indented code", "\\", "*", "_",
    "[link](http://x)", "[ref]: http://x", "Setext\n===", "Setext\n---", "\t", "\u00a0",
    "\ufeff", "\u200b", "\u2028", "\x00", "\x0c", "\x1e", "\x1f", "\x7f",
])
HEADING = st.builds(lambda mark, text: mark + text,
                    st.sampled_from(["## ", "# ", "### ", "##", "  ## ", "## ## ", "#"]), TEXT)
FENCE = st.builds(
    lambda fence, lang, body, closed: f"{fence}{lang}\n{body}\n" + (fence if closed else ""),
    st.sampled_from(["```", "~~~", "````"]),
    st.one_of(st.sampled_from(["", "python", "pyhton", "js", "c++", "text", "{.py}", "bash",
                               "python {linenos}", "ß"]), WORD),
    st.one_of(TEXT, st.sampled_from(["## not a card", "?", "$x$", "{{c1::a}}", "}}"])),
    st.booleans())
CARD = st.builds(lambda q, a: f"## {q}\n\n{a}\n", WORD, WORD)  # keeps some examples valid
FRAGMENT = st.one_of(FIXED, HEADING, FENCE, CARD, TEXT)
SEPARATOR = st.sampled_from(["\n", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", " ", ""])
NEWLINE = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])


def joined(parts, separators=SEPARATOR, min_size=1, max_size=20):
    return st.lists(st.tuples(parts, separators), min_size=min_size, max_size=max_size).map(
        lambda pairs: "".join(p + s for p, s in pairs))


# Free-form: fragments in any order.
LOOSE = joined(FRAGMENT)
# Card-shaped: an optional preamble, then `## ` headings made of inline fragments, each
# followed by metadata comments and a body of fragments; more of these build (exit 0).
INLINE = st.one_of(WORD, TEXT, st.sampled_from([
    "$x^2$", "\\(a\\)", "$$y$$", "{{c1::a}}", "{{c1::", "}}", "{{c2::b::hint}}", "`c`",
    "{{c0::z}}", "<b>", "</b>", "<br>", "![a](x.png)", "![b](missing.png)", "**s**",
    "<!-- c -->", "&lt;",
]))
SECTION = st.builds(
    lambda heading, meta, body: "## " + heading + "\n" + meta + "\n" + body,
    joined(INLINE, st.sampled_from([" ", ""]), max_size=4),
    joined(st.sampled_from(["<!-- id: x -->", "<!-- id: y -->", "<!-- tags: a b -->",
                            "<!-- type: cloze -->", "<!-- type: reversed -->",
                            "<!-- type: basic -->"]), NEWLINE, min_size=0, max_size=2),
    st.one_of(joined(FRAGMENT, max_size=6),
              st.builds(lambda first, rest: first + "\n\n" + rest, WORD,
                        joined(FRAGMENT, min_size=0, max_size=4))))
PREAMBLE = st.sampled_from(["", "# Title\n\n", "---\ntags: [t]\n---\n", "---\ndeck: D\n---\n",
                            "\ufeff# Bom\n", "---\ntype: reversed\n---\n# R\n"])
SHAPED = st.builds(lambda pre, sections: pre + sections, PREAMBLE,
                   joined(SECTION, NEWLINE, max_size=5))
DOCUMENT = st.one_of(LOOSE, SHAPED)
FILES = st.dictionaries(st.sampled_from(["a.md", "b.md", "sub/c.md", "Ünïcode name.md"]),
                        DOCUMENT, min_size=1, max_size=3)


@settings(FUZZ, max_examples=800)
@given(files=FILES)
def test_markdownish_sources_build_or_fail_with_located_errors(files):
    with tempfile.TemporaryDirectory() as folder:
        root = new_project(Path(folder))
        for name, text in files.items():
            path = root / "source" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
        code, out, err = run_deck(root, "build")
        assert code in (0, 1), f"exit {code}\nstdout: {out}\nstderr: {err}"
        if code == 1:
            assert_failed_cleanly(root, out, err)
            return
        assert not any(re.search(r": E\d{3} ", line) for line in err.splitlines()), err
        summary = SUMMARY.fullmatch(out.splitlines()[0])
        assert summary is not None, out
        package, notes = root / summary.group(1), int(summary.group(3))
        assert packages(root) == [package.name] and hidden(root) == []
        assert notes > 0 and int(summary.group(4)) == notes
        anki = Anki(Path(folder) / "collection.anki2")
        try:
            log = anki.import_package(package)
            assert anki.col.note_count() == notes
            assert len(anki.notes()) == notes
            assert (len(log.new), len(log.conflicting)) == (notes, 0), log
            no_cards = anki.col.db.scalar(
                "select count() from notes where id not in (select nid from cards)")
            assert no_cards == 0, "Anki made no card for a note the build counted"
        finally:
            anki.close()


# --- (b) random bytes -------------------------------------------------------------------

PREFIX = st.sampled_from([b"", b"## q\n\na\n\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
                          b"---\n", b"# T\r\n\r\n## q\r\n\r\n"])


@settings(FUZZ, max_examples=300)
@given(prefix=PREFIX, data=st.binary(max_size=2000))
def test_random_bytes_as_a_source_file_build_or_fail_with_located_errors(prefix, data):
    with tempfile.TemporaryDirectory() as folder:
        root = new_project(Path(folder))
        (root / "source" / "x.md").write_bytes(prefix + data)
        code, out, err = run_deck(root, "check")
        assert code in (0, 1), f"check: exit {code}\nstdout: {out}\nstderr: {err}"
        assert packages(root) == [] and not (root / "source" / "deck.lock").exists()
        code, out, err = run_deck(root, "build")
        assert code in (0, 1), f"build: exit {code}\nstdout: {out}\nstderr: {err}"
        if code == 1:
            assert_failed_cleanly(root, out, err)
        else:
            summary = SUMMARY.fullmatch(out.splitlines()[0])
            assert summary is not None, out
            assert packages(root) == [Path(summary.group(1)).name] and hidden(root) == []
            assert (root / "source" / "deck.lock").is_file()
