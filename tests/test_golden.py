"""Golden tests for rendering: `tests/golden/<case>.md` -> `tests/golden/<case>.html`.

Each `.md` is a whole source file in the card syntax. It is parsed and every card is
rendered as a build would (source, media and project folder are all `tests/golden`, with
`tests/golden/media` as the media folder); the fields, the diagnostics and the media files
are written out as text and compared with the `.html` file next to it.

To (re)write the expected files after an intended change, run

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and review the diff in git: the expected files are the specification, so read them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.media import MediaResolver
from generator.render import render_file
from tests.conftest import compare_golden

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(GOLDEN.glob("*.md"))


def render_case(md: Path) -> str:
    """Every card of one source file, then its diagnostics and media, as stable text."""
    rel = md.relative_to(GOLDEN).as_posix()
    text = md.read_text(encoding="utf-8")
    resolver = MediaResolver(GOLDEN, GOLDEN / "media", GOLDEN)
    cards, diagnostics = render_file(rel, text, resolver)
    media: dict[str, str] = {}
    out: list[str] = []
    for n, rendered in enumerate(cards, 1):
        card = rendered.card
        for file in rendered.media:
            media[file.name] = Path(file.source).relative_to(GOLDEN).as_posix()
        tags = f", tags: {' '.join(card.tags)}" if card.tags else ""
        out.append(f"<!-- card {n}: {card.kind.value}, line {card.pos.line}, "
                   f"deck: {card.deck}{tags} -->")
        front, back = rendered.fields[0], rendered.fields[1]
        out.append("<!-- front -->")
        out.append(front)
        out.append("<!-- back -->")
        if back:
            out.append(back)
        out.append("")
    out.append("<!-- diagnostics -->")
    out += [str(d) for d in sorted(diagnostics)]
    out.append("<!-- media -->")
    out += [f"{name} -> {source}" for name, source in sorted(media.items())]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("md", CASES, ids=[p.stem for p in CASES])
def test_golden(md: Path):
    compare_golden(md.with_suffix(".html"), render_case(md))


def test_cases_found():
    """A glob that matched nothing would make the parametrized test vanish silently."""
    assert CASES
