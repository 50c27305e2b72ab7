"""Markdown text to cards: structure as the user's editor previews it."""

import pytest

from generator.model import Kind
from generator.parse import parse_file


def one(text, path="deck.md"):
    cards, diagnostics = parse_file(path, text)
    assert not diagnostics, diagnostics
    return cards


@pytest.mark.parametrize("text, path, deck", [
    ("---\ndeck: From Front Matter\n---\n# Title\n\n## q\n\na\n", "x.md", "From Front Matter"),
    ("# The Title\n\n## q\n\na\n", "x.md", "The Title"),
    ("## q\n\na\n", "file-name.md", "file-name"),
    ("# Cells\n\n## q\n\na\n", "biology/micro/x.md", "biology::micro::Cells"),
    ("# Cells ::  :: \n\n## q\n\na\n", "x.md", "Cells"),
    ("# ::\n\n## q\n\na\n", "x.md", "x"),
])
def test_deck_name(text, path, deck):
    assert one(text, path)[0].deck == deck


def test_heading_is_front_and_text_up_to_next_heading_is_back():
    cards = one("# D\n\n## First?\n\nline 1\n\n- item\n\n## Second\nx\n")
    assert [(c.front, c.back, c.pos.line) for c in cards] == [
        ("First?", "line 1\n\n- item", 3), ("Second", "x", 9)]
    assert cards[0].back_line == 5


def test_headings_inside_code_are_code_and_setext_headings_count_and_are_named():
    cards, diagnostics = parse_file("deck.md", "## q\n\n```\n## not a card\n?\n```\n\n"
                                    "Setext card\n-----------\nback\n")
    assert [c.front for c in cards] == ["q", "Setext card"]
    assert "## not a card\n?" in cards[0].back
    assert [str(d) for d in diagnostics] == [
        "deck.md:9:1: W113 the '-----------' line under 'Setext card' makes that text a '## ' "
        "heading, which starts a card (a setext heading); put a blank line before it to "
        "draw a line instead"]


def test_question_mark_line_splits_a_longer_front():
    (card,) = one("## Heading\nmore question\n\n?\n\nthe answer\n")
    assert card.front == "Heading\n\nmore question"
    assert card.back == "the answer" and card.back_line == 6


def test_metadata_comments_under_the_heading():
    (card,) = one("---\ntags: [file]\n---\n## q\n<!-- id: Abc123 -->\n<!-- tags: x y -->\n"
                  "<!-- type: reversed -->\nanswer\n")
    assert (card.explicit_id, card.tags, card.kind, card.back) == (
        "Abc123", ("file", "x", "y"), Kind.REVERSED, "answer")


def test_an_ordinary_comment_stays_in_the_back():
    (card,) = one("## q\n<!-- just a note -->\nanswer\n")
    assert card.back == "<!-- just a note -->\nanswer"


def test_cloze_is_detected_from_the_front_and_may_have_no_back():
    (card,) = one("## The {{c1::mitochondrion}} makes ATP\n")
    assert card.kind is Kind.CLOZE and card.back == ""


def test_front_matter_type_applies_to_every_card():
    cards = one("---\ntype: reversed\n---\n## a\n\nb\n\n## c\n\nd\n")
    assert {c.kind for c in cards} == {Kind.REVERSED}


@pytest.mark.parametrize("text, expected", [
    ("## q\n", ["deck.md:1:1: E102 card has no back"]),
    ("---\n- a\n- b\n---\n## q\n\na\n",
     ["deck.md:1:1: E106 front matter must be a mapping of 'key: value' lines"]),
    ("---\ntags: [good, two words]\n---\n## q\n\na\n",
     ["deck.md:1:1: E106 tag 'two words' contains a space; Anki tags are single words "
      "(did you mean 'two_words'?)"]),
    ("## q\n<!-- type: sideways -->\na\n",
     ["deck.md:2:1: E105 unknown card type 'sideways'; expected 'basic', 'reversed' or "
      "'cloze'"]),
    ("## q\n<!-- type: cloze -->\na\n",
     ["deck.md:1:1: E107 cloze card has no '{{c1::...}}'"]),
])
def test_findings_are_located(text, expected):
    _, diagnostics = parse_file("deck.md", text)
    assert [str(d) for d in diagnostics] == expected


def test_metadata_values_are_quoted_short_in_messages():
    _, diagnostics = parse_file("deck.md", "## q\n<!-- type: " + "x" * 5000 + " -->\na\n\n"
                                "<!-- id: " + "y" * 5000 + " -->\n")
    assert diagnostics and all(len(d.message) < 300 for d in diagnostics)
