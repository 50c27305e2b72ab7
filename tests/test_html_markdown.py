"""Anki field HTML to Markdown for `deck adopt` (generator/html_markdown.py).

Golden pairs: `tests/golden/adopt/NAME.html` is a field as Anki stores it (one trailing
newline is the file's, not the field's), `NAME.md` what `to_markdown` makes of it, and
`NAME.out.html` what our renderer makes of that Markdown. A NAME starting with `cloze` is a
cloze note's field. To (re)write the expected files after an intended change, run

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_html_markdown.py

and read the diff in git: the expected files are the specification.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.html_markdown import Converted, render_field, round_trip, to_markdown
from tests.conftest import compare_golden

ADOPT = Path(__file__).resolve().parent / "golden" / "adopt"
FIELDS = sorted(p for p in ADOPT.glob("*.html") if not p.name.endswith(".out.html"))

# what each lossy sample keeps as raw HTML; every other sample keeps nothing
KEPT = {
    "coloured_text": ('<span style="color:red">', '<font color="blue">'),
    "underline": ("<u>",),
    "table_merged": ("<table>",),
    "heading": ("<h2>",),
}


def _field(path: Path) -> tuple[str, bool]:
    return path.read_text(encoding="utf-8").removesuffix("\n"), path.name.startswith("cloze")


@pytest.mark.parametrize("field", FIELDS, ids=[p.stem for p in FIELDS])
def test_golden_pair(field: Path):
    html, cloze = _field(field)
    converted = to_markdown(html, cloze)
    compare_golden(field.with_suffix(".md"), converted.markdown + "\n")
    rendered, errors = render_field(converted.markdown, cloze)
    assert errors == []
    compare_golden(field.with_name(field.stem + ".out.html"), rendered + "\n")


@pytest.mark.parametrize("field", FIELDS, ids=[p.stem for p in FIELDS])
def test_golden_pair_survives_the_round_trip(field: Path):
    html, cloze = _field(field)
    converted = to_markdown(html, cloze)
    assert converted.problems == ()
    assert round_trip(html, converted.markdown, cloze) == []
    expected_md = field.with_suffix(".md")
    if expected_md.exists():  # the file as reviewed, not only today's conversion
        assert round_trip(html, expected_md.read_text(encoding="utf-8"), cloze) == []


@pytest.mark.parametrize("field", FIELDS, ids=[p.stem for p in FIELDS])
def test_golden_pair_lists_what_it_kept(field: Path):
    converted = to_markdown(*_field(field))
    if field.stem == "formula_with_tags":
        assert len(converted.kept_html) == 1
        assert converted.kept_html[0].startswith("whole field: the formula")
        assert converted.markdown.startswith("<div>")
    else:
        assert converted.kept_html == KEPT.get(field.stem, ())


def test_cases_found():
    """A glob that matched nothing would make the parametrized tests vanish silently."""
    assert len(FIELDS) >= 20
    kinds = {p.stem for p in FIELDS}
    assert set(KEPT) <= kinds


def test_formulas_and_clozes_byte_for_byte():
    html = r"{{c1::\(a &lt; b\)::hint}} and \[\frac{1}{x}\] {{c2::x_1 * y_2}}"
    converted = to_markdown(html, cloze=True)
    assert converted.markdown == r"{{c1::\(a < b\)::hint}} and \[\frac{1}{x}\] {{c2::x_1 \* y_2}}"
    assert render_field(converted.markdown, cloze=True)[0] == (
        r'<p>{{c1::\(a &lt; b\)::hint}} and <span class="math display">\[\frac{1}{x}\]</span> '
        r"{{c2::x_1 * y_2}}</p>")


@pytest.mark.parametrize("html, markdown", [
    ("2*3*4", r"2\*3\*4"),
    ("_x_ but a_b", r"\_x\_ but a_b"),
    ("# title", r"\# title"),
    ("&lt;b&gt;x&lt;/b&gt;", r"\<b>x\</b>"),
    ("1 &lt; 2", "1 < 2"),
    ("&amp;amp;", r"\&amp;"),
    ("$x$", r"\$x\$"),
    (r"a \* b", r"a \\\* b"),
    (r"C:\temp", r"C:\temp"),
    (r"\(open", r"\\(open"),
])
def test_text_is_escaped_not_formatted(html: str, markdown: str):
    converted = to_markdown(html)
    assert converted.markdown == markdown
    assert round_trip(html, converted.markdown) == []


@pytest.mark.parametrize("html, markdown, kept", [
    # `**Note:**text` would not read as bold: the tags stay
    ("<b>Note:</b>text", "<b>Note:</b>text", ("<b>",)),
    ("<b>Note:</b> text", "**Note:** text", ()),
    ("a<hr>b", "a\n\n***\n\nb", ()),  # not `---`, which ends front matter
    ("one\n\ntwo", "one two", ()),  # a newline in HTML is a space
    ("<pre>a<br>b &lt; c</pre>", "```\na\nb < c\n```", ()),
    ('<pre><code class="hljs">x</code></pre>', '<pre><code class="hljs">x</code></pre>',
     ("<pre>",)),
    ("<h1>t</h1>", "<h1>t</h1>", ("<h1>",)),
    ("x<sub>2</sub>", "x<sub>2</sub>", ("<sub>",)),
    ("<foo>custom</foo>", "<div><foo>custom</foo></div>", ("<foo>",)),
])
def test_conversions(html: str, markdown: str, kept: tuple[str, ...]):
    converted = to_markdown(html)
    assert (converted.markdown, converted.kept_html) == (markdown, kept)


def test_media_names_images_and_sounds_not_remote_ones():
    html = ('<img src="a b.png"> <img src="https://x.org/y.png"> [sound:s.mp3] '
            '<img src="c.jpg" width="9"> <img src="a b.png">')
    assert to_markdown(html).media == ("a b.png", "s.mp3", "c.jpg")


def test_round_trip_finds_what_a_markdown_loses():
    html = r"<b>x</b> \(y\) {{c1::z}} <img src='p.png'> <pre><code>q = 1</code></pre>"
    assert round_trip(html, r"**x** \(y\) {{c1::z}} ![](p.png)" "\n\n```\nq = 1\n```",
                      cloze=True) == []
    problems = round_trip(html, "x y z", cloze=True)
    assert [p.split(" differ")[0] for p in problems] == [
        "formulas", "cloze markers", "code", "images", "text"]


def test_a_field_that_would_lose_something_is_kept_whole():
    html = r"\(a<br>b\) and <b>bold</b>"
    converted = to_markdown(html)
    assert converted == Converted(r"<div>\(a<br>b\) and <b>bold</b></div>",
                                  ("whole field: the formula '\\\\(a<br>b\\\\)' holds HTML "
                                   "tags",), (), ())
    assert render_field(converted.markdown)[0] == converted.markdown


def test_kept_html_inside_a_list_stays_in_its_item():
    html = '<ul><li><span style="color:red">red</span></li><li><div style="x">b\n</div></li></ul>'
    converted = to_markdown(html)
    assert converted.markdown == ('- <span style="color:red">red</span>\n'
                                  '- <div style="x">b&#10;</div>')
    assert converted.kept_html == ('<span style="color:red">', '<div style="x">')


def test_empty_and_odd_fields():
    assert to_markdown("") == Converted("")
    assert to_markdown("<br>") == Converted("")
    pua = to_markdown("a \U000F0001 b")
    assert pua.kept_html == ("whole field: it holds private-use characters",)
    assert pua.problems == ()
    stray = to_markdown("a</b> <!-- tags: x --> b")
    assert stray.markdown == "a b" and stray.kept_html == ()
