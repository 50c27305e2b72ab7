"""The note types' shape is a promise to every collection that imported them: pinned here.

Changing any id, name or order below makes Anki skip the user's notes as "conflicting" (or
force a full sync when merging). Change CSS instead; it is not part of the shape.
"""

import pytest

from generator import notetypes
from generator.model import Kind


def test_shapes_are_pinned():
    assert [nt.shape() for nt in notetypes.ALL] == [
        (1733100001, "Markdown Basic",
         (("Front", 5731928374650001), ("Back", 5731928374650002), ("Source", 5731928374650003)),
         (("Card 1", 6842039485760001),), False),
        (1733100002, "Markdown Reversed",
         (("Front", 5731928374650011), ("Back", 5731928374650012), ("Source", 5731928374650013)),
         (("Card 1", 6842039485760011), ("Card 2", 6842039485760012)), False),
        (1733100003, "Markdown Cloze",
         (("Text", 5731928374650021), ("Extra", 5731928374650022), ("Source", 5731928374650023)),
         (("Cloze", 6842039485760021),), True),
    ]


def test_every_kind_has_a_note_type():
    assert set(notetypes.BY_KIND) == set(Kind)


def test_css_carries_day_and_both_night_mode_selectors():
    css = notetypes.css()
    assert ".nightMode pre.highlight" in css and ".night_mode pre.highlight" in css
    assert "overflow-x: auto" in css  # long code lines scroll inside their block


@pytest.mark.anki
def test_package_stores_the_pinned_shape(tmp_path, anki):
    """What Anki holds after import has exactly the ids we pinned."""
    from tests.conftest import build_project, make_project

    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\na\n\n## {{c1::x}} y\n\n"
                                           "## r\n<!-- type: reversed -->\nb\n"})
    package, _, _ = build_project(root, now=1_800_000_000)
    anki.import_package(package)
    stored = {nt["id"]: nt for nt in anki.col.models.all()}
    for nt in notetypes.ALL:
        got = stored[nt.id]
        assert got["name"] == nt.name
        assert [(f["name"], f["id"]) for f in got["flds"]] == list(nt.fields)
        assert [(t["name"], t["id"]) for t in got["tmpls"]] == [(t.name, t.id)
                                                                for t in nt.templates]
