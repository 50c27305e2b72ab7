"""`deck ids`: pinning writes the GUID a card already has, and nothing else changes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from generator.cli import main
from generator.pin import pin_text, split_lines
from tests.conftest import build_project, make_project

NOW = 1_800_000_000
_PINNED = re.compile(r"<!-- id: (\w+) -->(\r\n|\r|\n|$)")


def unpin(text: str, guids: set[str]) -> str:
    """Remove exactly the lines `pin_text` inserted."""
    lines = split_lines(text)
    out = []
    for n, line in enumerate(lines):
        m = _PINNED.fullmatch(line)
        if m and m.group(1) in guids:
            if not m.group(2) and out:  # it was added after an unended last line
                out[-1] = out[-1].rstrip("\r\n")
            continue
        out.append(line)
    return "".join(out)


line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                    max_size=20)
endings = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def documents(draw):
    lines = draw(st.lists(st.tuples(st.one_of(line_text, st.just("## heading"),
                                              st.just("  trailing  ")), endings),
                          min_size=1, max_size=12))
    text = "".join(t + e for t, e in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no final line ending
    count = len(split_lines(text))
    spots = draw(st.lists(st.integers(2, max(2, count + 1)), unique=True, max_size=4))
    return text, [(line, f"G{n}x") for n, line in enumerate(spots)]


@pytest.mark.fuzz
@settings(max_examples=300, derandomize=True, deadline=None)
@given(documents())
def test_removing_the_inserted_lines_gives_back_the_original(doc):
    text, pins = doc
    pinned = pin_text(text, pins)
    assert unpin(pinned, {g for _, g in pins}) == text
    assert pinned.count("<!-- id: ") == text.count("<!-- id: ") + len(pins)


def test_pin_uses_the_heading_line_ending():
    assert pin_text("## a\r\nb\r\n", [(2, "X")]) == "## a\r\n<!-- id: X -->\r\nb\r\n"
    assert pin_text("## a", [(2, "X")]) == "## a\n<!-- id: X -->"


def test_deck_ids_pins_current_guids_and_keeps_every_other_byte(tmp_path, monkeypatch, capsys):
    original = ("\ufeff# Deck  \r\n\r\n## First?  \r\nanswer one\r\n\r\n"
                "Setext card\r\n-----------\r\n<!-- tags: x -->\r\nanswer two\r\n"
                "\r\n## Pinned\r\n<!-- id: Keep1 -->\r\nthree")
    root = make_project(tmp_path, {})
    source = root / "source" / "deck.md"
    source.write_bytes(original.encode("utf-8"))
    package, _, compiled = build_project(root, NOW)
    guids = [n.guid for n in compiled.notes]
    before = package.read_bytes()
    monkeypatch.chdir(root)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW))

    assert main(["ids", "--check"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"deck.md:3:1: I001 card has no pinned id (it is '{guids[0]}'; run 'deck ids' to "
        "write it)",
        f"deck.md:6:1: I001 card has no pinned id (it is '{guids[1]}'; run 'deck ids' to "
        "write it)"]
    assert err == "2 cards without a pinned id\n"
    assert source.read_bytes() == original.encode("utf-8")

    assert main(["ids"]) == 0
    assert capsys.readouterr().out == "pinned 2 cards in 1 file\n"
    data = source.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    assert f"## First?  \r\n<!-- id: {guids[0]} -->\r\nanswer one" in text
    assert f"-----------\r\n<!-- id: {guids[1]} -->\r\n<!-- tags: x -->" in text
    assert unpin(text, set(guids[:2])) == original

    assert main(["ids", "--check"]) == 0
    capsys.readouterr()
    # identities did not change: the rebuilt package is byte for byte the same
    again, summary, _ = build_project(root, NOW + 60, output="again.apkg")
    assert again.read_bytes() == before and summary.unchanged == 3


def test_deck_ids_refuses_while_there_are_errors(tmp_path, monkeypatch, capsys):
    root = make_project(tmp_path, {"a.md": "## q\n\na\n\n## q\n\nb\n"})
    monkeypatch.chdir(root)
    original = (root / "source" / "a.md").read_bytes()
    assert main(["ids"]) == 1
    assert "E103" in capsys.readouterr().err
    assert (root / "source" / "a.md").read_bytes() == original
