"""Every diagnostic code: a bad example that raises it and a fixed one that does not.

The same pairs are the examples in README's table of codes.
"""

from __future__ import annotations

import pytest

from generator import build
from generator.diagnostics import CODES
from tests.conftest import PNG, build_project, make_project

NOW = 1_800_000_000

# code, bad source, fixed source (one file `deck.md`; media/ holds dot.png, photo.heic, fake.png
# and notes.txt)
PAIRS = [
    ("E101", "##\n\nback\n", "## front\n\nback\n"),
    ("E102", "## What is ReLU?\n", "## What is ReLU?\n\nmax(0, x)\n"),
    ("E103", "## q\n\na\n\n## q\n\nb\n", "## q\n\na\n\n## q, again\n\nb\n"),
    ("E104", "## a\n<!-- id: X1 -->\nA\n\n## b\n<!-- id: X1 -->\nB\n",
     "## a\n<!-- id: X1 -->\nA\n\n## b\n<!-- id: X2 -->\nB\n"),
    ("E105", "## q\n<!-- type: reverse-ish -->\na\n", "## q\n<!-- type: reversed -->\na\n"),
    ("E106", "---\ntags: [machine learning]\n---\n## q\n\na\n",
     "---\ntags: [machine_learning]\n---\n## q\n\na\n"),
    ("E107", "## q\n<!-- type: cloze -->\na\n", "## {{c1::q}}\n<!-- type: cloze -->\na\n"),
    ("W108", "# Notes without cards\n\nJust text.\n", "# Notes\n\n## q\n\na\n"),
    ("E109", "## <!-- todo -->\n\nback\n", "## q\n\nback\n"),
    ("W109", "## q\n\n<!-- answer later -->\n", "## q\n\nan answer\n"),
    ("W110", "## q\n\n<!-- tags: late -->\nanswer\n", "## q\n<!-- tags: late -->\nanswer\n"),
    ("E111", "## q\n\n```\ncode\n\n## r\n\nb\n", "## q\n\n```\ncode\n```\n\n## r\n\nb\n"),
    ("W112", "Intro text.\n\n## q\n\na\n", "## Intro\n\nIntro text.\n\n## q\n\na\n"),
    ("W113", "## q\n\nsome text\n---\nmore\n", "## q\n\nsome text\n\n---\nmore\n"),
    ("E114", "## q\n\n" + "".join("  " * i + "- x\n" for i in range(60)),
     "## q\n\n" + "".join("  " * i + "- x\n" for i in range(9))),
    ("E201", "## q\n\ncosts $x and more\n", "## q\n\ncosts \\$x and more\n"),
    ("E202", "## q\n\nempty $$$$ formula \\(\\)\n", "## q\n\na $x$ formula\n"),
    ("W204", "## q\n\nthe rate $ x_t $ grows\n", "## q\n\nthe rate $x_t$ grows\n"),
    ("W301", "## q\n\n```pyhton\nx = 1\n```\n", "## q\n\n```python\nx = 1\n```\n"),
    ("E401", "## q\n\n![](nowhere.png)\n", "## q\n\n![](dot.png)\n"),
    ("E402", "## q\n\n![](../../../etc/x.png)\n", "## q\n\n![](dot.png)\n"),
    ("E403", "## q\n\n![](Dot.PNG)\n", "## q\n\n![](dot.png)\n"),
    ("W404", "## q\n\n![](photo.heic)\n", "## q\n\n![](dot.png)\n"),
    ("E405", "## q\n\n![](fake.png)\n", "## q\n\n![](dot.png)\n"),
    ("E406", "## q\n\n![](notes.txt)\n", "## q\n\n![](dot.png)\n"),
    ("W407", "## q\n\n![](https://example.com/dot.png)\n", "## q\n\n![](dot.png)\n"),
    ("E601", "## {{c1::`d[{1}}]`}} is a lookup\n", "## {{c1::`d[{1} }]`}} is a lookup\n"),
    ("W602", "## {{c1::a}} and {{c3::b}}\n", "## {{c1::a}} and {{c2::b}}\n"),
    ("W603", "## {{c1::`std::vector`}} grows\n", "## `std::`{{c1::`vector`::type}} grows\n"),
    ("E604", "## The capital of France is {{c1::Paris\n",
     "## The capital of France is {{c1::Paris}}\n"),
    ("W701", "## q\n\n<script>alert(1)</script>\n", "## q\n\n<b>bold</b>\n"),
    ("E702", "## q\n\n<div>open\n", "## q\n\n<div>open</div>\n"),
    ("W703", "## q\n\ntext</p> more\n", "## q\n\ntext more\n"),
    ("E806", "---\ndeck: Other\n---\n## q\n\na\n", "---\ndeck: Another\n---\n## q\n\na\n"),
]


@pytest.mark.parametrize("code, bad, fixed", PAIRS, ids=[p[0] for p in PAIRS])
def test_code_pair(tmp_path, code, bad, fixed):
    media = {"media/dot.png": PNG, "media/photo.heic": b"\x00\x00\x00\x18ftypheic",
             "media/fake.png": b"hello, not an image", "media/notes.txt": b"some notes\n"}
    assert code in CODES
    codes = []
    for text in (bad, fixed):
        root = make_project(tmp_path / str(len(codes)), {"deck.md": text, "other.md":
                                                         "## other\n\ncard\n"}, media)
        project = build.load_project(cwd=root)
        codes.append([d.code for d in build.compile_project(project, NOW).diagnostics])
    assert code in codes[0], codes[0]
    assert code not in codes[1], codes[1]


def test_lock_codes_deck_changed_and_removed(tmp_path):
    root = make_project(tmp_path, {"a.md": "# Old\n\n## q\n\na\n\n## r\n\nb\n"})
    build_project(root, NOW)
    (root / "source" / "a.md").write_text("# New\n\n## q\n\na\n")
    diagnostics = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [(d.code, str(d.pos)) for d in diagnostics] == [("W803", "a.md:1:1"),
                                                           ("W802", "a.md:3:1")]


def test_findings_point_at_their_cause(tmp_path):
    """Line and column of the character at fault, two on one line told apart."""
    root = make_project(tmp_path, {"a.md": (
        "## q\n\nCosts $x and $y here.\n\nfirst line\nsecond </b> line\n\n"
        "and <i>open\n\n$$\nnever closed\n\ntext \\[ too\n")})
    found = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [(str(d.pos), d.code) for d in found] == [
        ("a.md:3:7", "E201"), ("a.md:3:14", "E201"), ("a.md:6:8", "W703"),
        ("a.md:8:5", "E702"), ("a.md:10:1", "E201"), ("a.md:13:6", "E201")]


def test_lock_code_a_new_pinned_id_on_a_card_that_had_one(tmp_path):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\na\n"})
    build_project(root, NOW)
    had = (root / "source" / "deck.lock").read_text().split('"guid": "')[1].split('"')[0]
    (root / "source" / "a.md").write_text("# A\n\n## q\n<!-- id: MyOwnId -->\na\n")
    diagnostics = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [(d.code, str(d.pos)) for d in diagnostics] == [("W803", "a.md:1:1"),
                                                           ("W111", "a.md:3:1")]
    assert f"this card had the identity '{had}'" in diagnostics[1].message
    (root / "source" / "a.md").write_text(f"# A\n\n## q\n<!-- id: {had} -->\na\n")
    assert build.compile_project(build.load_project(cwd=root), NOW).diagnostics == ()


def test_lock_codes_corrupt_lock_and_changed_note_type_shape(tmp_path):
    root = make_project(tmp_path, {"a.md": "## q\n\na\n"})
    build_project(root, NOW)
    lock = root / "source" / "deck.lock"
    text = lock.read_text()
    shape = text.split('"shape": "')[1][:16]
    lock.write_text(text.replace(shape, "0" * 16, 1))
    diagnostics = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [d.code for d in diagnostics] == ["E801"]
    assert "changed its fields or templates since the lock" in diagnostics[0].message
    lock.write_text(text[:40])
    diagnostics = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [d.code for d in diagnostics] == ["E901"]


def test_every_code_is_documented_in_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [code for code in CODES if f"`{code}`" not in readme]
    assert not missing, f"codes missing from README: {missing}"


_HTML_ATOMS = ["<p>", "</p>", " ", "\n", "&nbsp;", "&amp;", "x", "<!--", "-->", "<b>", "</b>",
               "\xa0", "<br>", '<span class="a">', "</span>", ">", "<", "\u2003", "&lt;",
               "\\(", '<img src="x">', "&", "&#32;", ";", "\x1c", "nbsp", "#32;", "amp;"]


def _renders_empty_by_definition(html: str) -> bool:
    """No picture, sound or formula, and no text but spaces once comments and tags go."""
    import re
    from html import unescape

    if re.search(r"<img\b|\\\(|\\\[|<(audio|video)\b", html):
        return False
    text = re.sub(r"<[^>]*>", "", re.sub(r"<!--.*?-->", "", html, flags=re.S))
    return not unescape(text).replace("\xa0", " ").strip()


@pytest.mark.fuzz
def test_the_quick_empty_field_check_agrees_with_its_definition():
    from hypothesis import given, settings, strategies as st

    from generator.check import _renders_empty

    @settings(max_examples=3000, derandomize=True, deadline=None)
    @given(st.lists(st.sampled_from(_HTML_ATOMS), max_size=10).map("".join))
    def agrees(html):
        assert _renders_empty(html) == _renders_empty_by_definition(html)

    agrees()


def test_cloze_numbers_are_the_cards_anki_makes():
    from generator.cloze import MAX_CLOZE, cloze_numbers

    text = ("{{c3::a}} {{c1::b}} {{c3::c}} {{c0::zero}} {{C2::capital}} {{c65535::last}} "
            "{{c65536::past}} {{c99999999999999999999::huge}} {{c2:single colon}}")
    assert cloze_numbers(text) == [1, 3, MAX_CLOZE]


def test_a_cloze_only_inside_code_is_code_shown_not_a_card_without_cards(tmp_path):
    """Found by the fuzz test: `{{c1::` in a fence made the card a cloze card whose text
    Anki reads no cloze in, so the import made a note with no card at all. Cloze syntax
    in a code block is code shown; a card typed as cloze with no other cloze is E604."""
    root = make_project(tmp_path, {"a.md": "## 0\n```PY\n{{c1::\n"})
    compiled = build.compile_project(build.load_project(cwd=root), NOW)
    assert compiled.diagnostics == () and compiled.notes[0].card.kind.value == "basic"
    root = make_project(tmp_path / "1", {"a.md": "## 0\n<!-- type: cloze -->\n```PY\n"
                                                  "{{c1::x}}\n```\n"})
    diagnostics = build.compile_project(build.load_project(cwd=root), NOW).diagnostics
    assert [(d.code, str(d.pos)) for d in diagnostics] == [("E604", "a.md:1:1")]
    assert "makes no card in Anki" in diagnostics[0].message
    root = make_project(tmp_path / "2", {"a.md": "## Code\n\n`{{c1::x}}` and {{c1::y}}\n"})
    assert not build.compile_project(build.load_project(cwd=root), NOW).diagnostics
