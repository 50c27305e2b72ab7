"""What you wrote is what you get: every line of a source file ends up in a card, in a
documented non-card place (the title, front matter, a comment), or there is a finding that
names it. A property test over generated Markdown: each line carries a word of its own, and
the word must be found again."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from generator import build
from generator.diagnostics import Severity

pytestmark = pytest.mark.fuzz
from tests.conftest import make_project

NOW = 1_800_000_000


def blocks(draw_word):
    """Markdown constructs, each built around fresh words."""
    w = draw_word
    return st.sampled_from([
        lambda: f"## {w()}",
        lambda: f"# {w()}",
        lambda: f"{w()} text\n{w()} more",
        lambda: f"- {w()}\n  - {w()}",
        lambda: f"```\n{w()}\n```",
        lambda: f"```\n{w()}",
        lambda: f"{w()}\n---",
        lambda: f"> {w()}\n> {w()}",
        lambda: f"$$\n{w()}\n$$",
        lambda: f"$$\n{w()}",
        lambda: f"<!-- {w()} -->",
        lambda: f"1. {w()}\n2. {w()}",
        lambda: "\n".join("  " * i + f"- {w()}" for i in range(55)),
        lambda: f"{w()}\n?\n{w()}",
        lambda: f"| {w()} | b |\n| - | - |\n| {w()} | d |",
    ])


@settings(max_examples=250, derandomize=True, deadline=None)
@given(st.data())
def test_every_line_is_in_a_card_or_has_a_finding(data):
    counter = iter(range(10_000))

    def word() -> str:
        return f"w{next(counter)}x"

    parts = data.draw(st.lists(blocks(word), min_size=1, max_size=10))
    separators = data.draw(st.lists(st.sampled_from(["\n\n", "\n"]), min_size=len(parts),
                                    max_size=len(parts)))
    text = "".join(make() + sep for make, sep in zip(parts, separators))
    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder), {"a.md": text})
        compiled = build.compile_project(build.load_project(cwd=root), NOW)
    if any(d.severity is Severity.ERROR for d in compiled.diagnostics):
        return  # nothing is built: the findings name what to fix
    shown = " ".join(" ".join(n.rendered.fields[:2]) + " " + n.card.deck
                     for n in compiled.notes)
    regions = [tuple(map(int, m.groups())) for d in compiled.diagnostics if d.code == "W112"
               for m in [re.search(r"lines (\d+)-(\d+)", d.message)]]
    lines = text.split("\n")
    comment = False
    for number, line in enumerate(lines, 1):
        comment = comment or "<!--" in line
        for found in re.findall(r"w\d+x", line):
            if found in shown or comment or any(a <= number <= b for a, b in regions):
                continue
            raise AssertionError(f"line {number} ({line!r}) is in no card and has no "
                                 f"finding:\n{text}\n{compiled.diagnostics}")
        comment = comment and "-->" not in line
