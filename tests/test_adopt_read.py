"""`deck adopt`'s reading half (generator/adopt.py) against the real backend: which note
types are shaped like the stock ones, which notes a search reads and which it leaves out
(and why), a package read through a throwaway collection, and the Markdown written for
the notes, parsed back by this project's own parser: every note exactly one card, in the
deck Anki has it in, of its type, with its tags, and no error findings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from generator import adopt, adopt_sources
from generator.check import check_card
from generator.diagnostics import DeckError
from generator.media import MediaResolver
from generator.model import Kind
from generator.parse import parse_file
from generator.render import render_file
from tests.conftest import PNG

pytestmark = pytest.mark.anki

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(64)


# --- a user's collection ------------------------------------------------------------------

def _copy_notetype(col, stock: str, name: str, change) -> dict:
    notetype = copy.deepcopy(col.models.by_name(stock))
    notetype["id"] = 0
    notetype["name"] = name
    change(notetype)
    col.models.add_dict(notetype)
    return col.models.by_name(name)


def _renamed_basic(notetype: dict) -> None:
    """Basic under other names: fields `Question`/`Answer`, its card type `Q→A`."""
    for field, name in zip(notetype["flds"], ("Question", "Answer")):
        field["name"] = name
    template = notetype["tmpls"][0]
    template["name"] = "Q→A"
    template["qfmt"] = "<div class=q>{{Question}}</div>"
    template["afmt"] = "{{FrontSide}}<hr id=answer>{{text:Answer}}"


def _three_templates(notetype: dict) -> None:
    third = copy.deepcopy(notetype["tmpls"][0])
    third["name"] = "Card 3"
    third["ord"] = 2
    third["qfmt"] = "{{Back}}?"
    notetype["tmpls"].append(third)


class User:
    """A collection made by hand in Anki: stock note types, HTML fields, media, tags,
    decks with sub-decks, a card in a filtered deck, and notes that cannot be adopted."""

    def __init__(self, path: Path):
        from anki.collection import Collection

        self.col = col = Collection(str(path))
        media = Path(col.media.dir())
        (media / "cell.png").write_bytes(PNG)
        (media / "hello world.mp3").write_bytes(MP3)
        (media / "50%.png").write_bytes(PNG)
        self.copy = _copy_notetype(col, "Basic", "My Q&A", _renamed_basic)
        self.three = _copy_notetype(col, "Basic (and reversed card)", "Basic x3",
                                    _three_templates)
        self.kinds: dict[str, Kind] = {}
        self.guids: dict[str, str] = {}
        add = self.add
        add("nucleus", "Basic", "Biology", Kind.BASIC,
            "What does the <b>nucleus</b> hold?",
            "The DNA:<br><ul><li>chromosomes</li><li>genes</li></ul>", tags="bio cells")
        add("picture", "Basic", "Biology::Cells", Kind.BASIC, "Cell picture",
            '<img src="cell.png"> and <img src="50%.png">', tags="bio")
        add("circle", "Basic", "Biology", Kind.BASIC, r"Area of a circle of radius \(r\)",
            r"\[\pi r^2\]")
        add("code", "Basic", "Biology::Cells", Kind.BASIC, "Python's identity function",
            "<pre><code>def f(x):\n    return x</code></pre>", tags="code")
        add("two lines", "Basic", "Biology::Cells", Kind.BASIC,
            "What is <b>ATP</b>?<br>Name its use too", "Energy<br>for the cell")
        add("list front", "Basic", "Biology::Cells", Kind.BASIC,
            "<ul><li>alpha</li><li>beta</li></ul>", "Two letters")
        add("hashes", "Basic", "Biology::Cells", Kind.BASIC, "Sharp ##", "A note")
        add("question mark", "Basic", "Biology::Cells", Kind.BASIC, "Why?",
            "<div>Because</div><div>?</div><div>that is all</div>")
        add("empty back", "Basic", "Biology::Cells", Kind.BASIC, "Left blank", "")
        add("sound", "Basic", "Sounds", Kind.BASIC, "Listen",
            "[sound:hello world.mp3]")
        add("same 1", "Basic", "Biology", Kind.BASIC, "Same question", "first answer")
        add("same 2", "Basic", "Biology", Kind.BASIC, "Same question", "second answer")
        add("same 3", "Basic", "Biology", Kind.BASIC, "Same question", "third answer")
        add("reversed", "Basic (and reversed card)", "Biology", Kind.REVERSED,
            "Mitochondrion", "Makes <i>ATP</i>", tags="organelle")
        add("optional on", "Basic (optional reversed card)", "Biology", Kind.REVERSED,
            "Ribosome", "Makes proteins", "y")
        add("optional off", "Basic (optional reversed card)", "Biology", Kind.BASIC,
            "Golgi", "Packs proteins", "")
        add("cloze", "Cloze", "Biology::Cells", Kind.CLOZE,
            r"The {{c1::mitochondrion}} makes {{c2::ATP}}: \(\Delta G < 0\)",
            "The powerhouse", tags="cloze")
        add("cloze lines", "Cloze", "Biology::Cells", Kind.CLOZE,
            "A title line<br>then {{c1::the cloze}} below", "")
        add("renamed", "My Q&A", "Maths_Stats*", Kind.BASIC, "2 + 2", "4")
        add("odd deck", "Basic", "Maths_Stats*::A/B::C #", Kind.BASIC, "Slash", "in deck")
        add("other deck", "Basic", "MathsXStats", Kind.BASIC, "Not matched", "by the escape")
        add("waves", "Basic", "Physics & Co::Waves", Kind.BASIC, "Wave speed", r"\(v = f\lambda\)")
        add("braces", "Basic", "Biology", Kind.BASIC, "Literal {{c1::braces}}", "stay text")
        # not adoptable
        add("three", "Basic x3", "Biology", None, "front", "back")
        add("occlusion", "Image Occlusion", "Biology", None,
            "{{c1::image-occlusion:rect:left=.1:top=.1:width=.2:height=.2:oi=1}}",
            '<img src="cell.png">')
        # a GUID an id comment cannot hold (another tool's), on a duplicate front
        note = col.get_note(col.find_notes(f'"nid:{self.nid("same 3")}"')[0])
        note.guid = "has space"
        col.update_note(note)
        self.guids["same 3"] = "has space"
        # a card in a filtered deck: its home deck counts
        filtered = col.decks.new_filtered("Cram")
        deck = col.decks.get(filtered)
        deck["terms"][0][0] = "tag:organelle"
        col.decks.save(deck)
        col.sched.rebuild_filtered_deck(filtered)

    def add(self, key: str, notetype: str, deck: str, kind: Kind | None, *fields: str,
            tags: str = "") -> None:
        col = self.col
        note = col.new_note(col.models.by_name(notetype))
        for i, value in enumerate(fields):
            note.fields[i] = value
        note.tags = tags.split()
        col.add_note(note, col.decks.id(deck, create=True))
        self.guids[key] = note.guid
        if kind is not None:
            self.kinds[key] = kind

    def nid(self, key: str) -> int:
        guid = self.guids[key]
        return next(n for n in self.col.find_notes("") if self.col.get_note(n).guid == guid)


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    made = User(tmp_path_factory.mktemp("user") / "collection.anki2")
    yield made
    made.col.close()


def _key(user: User, guid: str) -> str:
    return next(k for k, g in user.guids.items() if g == guid)


# --- note types ---------------------------------------------------------------------------

def test_shape_of_compares_structure_not_names(user):
    col = user.col
    shape = {name: adopt.shape_of(col.models.by_name(name)) for name in (
        "Basic", "Basic (and reversed card)", "Basic (optional reversed card)",
        "Basic (type in the answer)", "Cloze", "Image Occlusion", "My Q&A", "Basic x3")}
    assert shape == {"Basic": "basic", "Basic (and reversed card)": "reversed",
                     "Basic (optional reversed card)": "optional",
                     "Basic (type in the answer)": "basic", "Cloze": "cloze",
                     "Image Occlusion": None, "My Q&A": "basic", "Basic x3": None}


@pytest.mark.parametrize("change", [
    lambda nt: nt["flds"].append(copy.deepcopy(nt["flds"][0]) | {"name": "Source", "ord": 2}),
    lambda nt: nt["tmpls"][0].update(qfmt="{{Front}} {{Back}}"),  # shows the answer
    lambda nt: nt["tmpls"][0].update(afmt="{{FrontSide}}"),  # never shows the back
    lambda nt: nt.update(type=1),
])
def test_shape_of_refuses_other_shapes(user, change):
    notetype = copy.deepcopy(user.col.models.by_name("Basic"))
    change(notetype)
    assert adopt.shape_of(notetype) is None


def test_shape_of_cloze_and_reversed_variants(user):
    col = user.col
    cloze = copy.deepcopy(col.models.by_name("Cloze"))
    cloze["tmpls"][0]["qfmt"] = "{{cloze:Back Extra}}"  # clozes in the second field
    assert adopt.shape_of(cloze) is None
    reversed_ = copy.deepcopy(col.models.by_name("Basic (and reversed card)"))
    reversed_["tmpls"][1]["qfmt"] = "{{Front}}"  # asks the same way twice
    assert adopt.shape_of(reversed_) is None
    optional = copy.deepcopy(col.models.by_name("Basic (optional reversed card)"))
    optional["tmpls"][1]["qfmt"] = "{{Back}}"  # not conditional on its third field
    assert adopt.shape_of(optional) is None


# --- reading ------------------------------------------------------------------------------

def test_read_every_adoptable_note(user):
    col = user.col
    notes, skipped = adopt.read(col)
    assert {n.guid for n in notes} == {user.guids[k] for k in user.kinds}
    assert {s.guid: s.reason for s in skipped} == {
        user.guids["three"]: "note type 'Basic x3' is not shaped like Basic, Basic (and "
        "reversed card), Basic (optional reversed card) or Cloze (2 fields, 3 card types)",
        user.guids["occlusion"]: "note type 'Image Occlusion' is not shaped like Basic, Basic "
        "(and reversed card), Basic (optional reversed card) or Cloze (5 fields, 1 card type)"}
    by_key = {_key(user, n.guid): n for n in notes}
    nucleus = by_key["nucleus"]
    stored = col.get_note(nucleus.note_id)
    assert nucleus.fields == tuple(stored.fields)
    assert nucleus.tags == ("bio", "cells")
    assert nucleus.mod == stored.mod and nucleus.mod > 0
    assert nucleus.deck == "Biology"
    assert by_key["reversed"].deck == "Biology"  # its cards sit in 'Cram', a filtered deck
    assert by_key["odd deck"].deck == "Maths_Stats*::A/B::C #"
    basic = col.models.by_name("Basic")
    assert nucleus.kept == adopt.Kept(basic["id"], "Basic", "basic",
                                      json.dumps(basic, sort_keys=True))
    assert by_key["renamed"].kept.shape == "basic"
    assert by_key["optional on"].fields[2] == "y"
    assert notes == sorted(notes, key=lambda n: (n.deck.casefold(), n.note_id))


def test_read_a_deck_with_its_sub_decks(user):
    notes, _ = adopt.read(user.col, deck="Biology")
    assert {n.deck for n in notes} == {"Biology", "Biology::Cells"}
    # `_` and `*` are wildcards in Anki's deck search: escaped, so 'MathsXStats' is not read
    notes, _ = adopt.read(user.col, deck="Maths_Stats*")
    assert {_key(user, n.guid) for n in notes} == {"renamed", "odd deck"}


def test_read_a_search_and_leave_out_known_and_own(user):
    notes, skipped = adopt.read(user.col, search="tag:bio or tag:cloze", deck="Biology")
    assert {_key(user, n.guid) for n in notes} == {"nucleus", "picture", "cloze"}
    assert skipped == []
    basic = user.col.models.by_name("Basic")["id"]
    notes, skipped = adopt.read(user.col, search="tag:bio or tag:cloze",
                                known_guids={user.guids["cloze"]}, own_notetype_ids={basic})
    assert notes == []
    assert {(_key(user, s.guid), s.reason) for s in skipped} == {
        ("cloze", "already in this project's lock"),
        ("nucleus", "a note of this tool's own note types (another project)"),
        ("picture", "a note of this tool's own note types (another project)")}


def test_read_a_search_anki_cannot_read(user):
    with pytest.raises(DeckError, match="Anki cannot read the search 'deck:\\(unclosed'"):
        adopt.read(user.col, search="deck:(unclosed")


def test_read_package_through_a_throwaway_collection(user, tmp_path):
    from anki.collection import ExportAnkiPackageOptions

    package = tmp_path / "export.apkg"
    user.col.export_anki_package(out_path=str(package), limit=None,
                                 options=ExportAnkiPackageOptions(
                                     with_scheduling=True, with_deck_configs=True,
                                     with_media=True, legacy=False))
    media = tmp_path / "media"
    notes, skipped = adopt.read_package(package, media_into=media, deck="Biology")
    expected, expected_skipped = adopt.read(user.col, deck="Biology")

    def same(note: adopt.Existing):
        kept = json.loads(note.kept.data)
        return (note.guid, note.note_id, note.deck, note.mod, note.fields, note.tags,
                note.kept.id, note.kept.name, note.kept.shape,
                [f["name"] for f in kept["flds"]],
                [(t["qfmt"], t["afmt"]) for t in kept["tmpls"]])

    assert [same(n) for n in notes] == [same(n) for n in expected]
    assert {s.guid for s in skipped} == {s.guid for s in expected_skipped}
    assert (media / "cell.png").read_bytes() == PNG


# --- Markdown -----------------------------------------------------------------------------

def _written_project(user, tmp_path, notes, existing=()) -> tuple[adopt.Written, Path]:
    written = adopt_sources.markdown_sources(notes, set(existing))
    root = tmp_path / "project"
    (root / "media").mkdir(parents=True)
    (root / "source").mkdir()
    for rel in existing:
        (root / "source" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "source" / rel).write_text("# Mine\n\n## q\n\na\n", encoding="utf-8")
    for rel, text in written.files:
        assert not (root / "source" / rel).exists()
        (root / "source" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "source" / rel).write_text(text, encoding="utf-8")
    for name, dest in written.media:
        src = Path(user.col.media.dir()) / name
        if src.is_file():
            (root / "media" / dest).write_bytes(src.read_bytes())
    return written, root


def test_markdown_sources_parse_back_as_the_same_notes(user, tmp_path):
    notes, _ = adopt.read(user.col)
    written, root = _written_project(user, tmp_path, notes)
    source = root / "source"
    resolver = MediaResolver(source, root / "media", root)
    cards = {}
    errors = []
    for rel, text in written.files:
        found, diagnostics = parse_file(rel, text)
        rendered, findings = render_file(rel, text, resolver)
        errors += [str(d) for d in (*diagnostics, *findings) if d.code.startswith("E")]
        errors += [str(d) for r in rendered for d in check_card(r)
                   if d.code.startswith("E")]
        for card in found:
            cards.setdefault((rel, card.front), []).append(card)
    assert errors == []
    assert written.notices == ((user.guids["same 3"], (
        "the same front as another card of the deck 'Biology', and its GUID 'has space' "
        "cannot be written in an id comment: its heading got '<!-- duplicate 2 -->' "
        "(invisible in Anki) to tell them apart")),)
    # every note exactly one card, found by its front, in its deck, of its type, its tags
    assert set(written.fronts) == set(written.lines) == {n.guid for n in notes}
    assert sum(len(c) for c in cards.values()) == len(notes)
    for note in notes:
        place = written.fronts[note.guid]
        card, = (c for c in cards[place] if c.pos.line == written.lines[note.guid])
        key = _key(user, note.guid)
        assert card.deck == note.deck, key
        assert card.kind is user.kinds[key], key
        assert card.tags == note.tags, key
    # duplicates: pinned by their GUIDs where an id comment can hold them
    pinned = {c.explicit_id for cs in cards.values() for c in cs if c.explicit_id}
    assert pinned == {user.guids["same 1"], user.guids["same 2"]}


def test_markdown_sources_layout(user, tmp_path):
    notes, _ = adopt.read(user.col)
    written = adopt_sources.markdown_sources(notes)
    files = dict(written.files)
    assert sorted(files) == ["Biology/cells.md", "Physics & Co/waves.md", "biology.md",
                             "maths_stats-a-b-c.md", "maths_stats.md", "mathsxstats.md",
                             "sounds.md"]
    assert files["Biology/cells.md"].startswith("# Cells\n\n## ")
    assert files["Physics & Co/waves.md"].startswith("# Waves\n\n## Wave speed\n")
    # '*' and '/' make no folder (Windows, POSIX); '# ... #' would lose its closing '#'
    assert files["maths_stats-a-b-c.md"].startswith(
        '---\ndeck: "Maths_Stats*::A/B::C #"\n---\n\n## Slash\n')
    by_key = {_key(user, g): front for g, (_, front) in written.fronts.items()}
    assert by_key["two lines"] == "What is **ATP**?\n\nName its use too"
    assert by_key["list front"] == "\n\n- alpha\n- beta"  # a list cannot be a heading
    assert by_key["hashes"] == "Sharp \\##"  # not the heading's closing sequence
    assert by_key["braces"] == "Literal {\\{c1::braces}}"  # no cloze card
    assert "## Why?\n\nBecause\n\n\\?\n\nthat is all" in files["Biology/cells.md"]
    assert "## Left blank\n\n<!-- empty in Anki -->" in files["Biology/cells.md"]
    assert "## Ribosome\n<!-- type: reversed -->\n" in files["biology.md"]
    assert "## Golgi\n\nPacks proteins" in files["biology.md"]
    assert "<!-- type: cloze -->\n<!-- tags: cloze -->" in files["Biology/cells.md"]
    assert "[sound:hello world.mp3]" in files["sounds.md"]
    # media: copied under their own names unless this project could not find them so
    assert written.media == (("50%.png", "50-.png"), ("cell.png", "cell.png"),
                             ("hello world.mp3", "hello world.mp3"))
    assert "50-.png" in files["Biology/cells.md"]


def test_markdown_sources_never_take_an_existing_name(user, tmp_path):
    notes, _ = adopt.read(user.col, deck="Biology")
    # 'biology/' on disk differs in case from the deck 'Biology': no folder of its own
    written, _ = _written_project(user, tmp_path / "a", notes, {"biology.md", "biology/x.md"})
    assert sorted(dict(written.files)) == ["biology-2.md", "biology-cells.md"]
    assert dict(written.files)["biology-cells.md"].startswith("# Biology::Cells\n")
    _parse_back(written, {"biology-2.md": "Biology", "biology-cells.md": "Biology::Cells"})
    # a name taken in another letter case is taken too
    written, _ = _written_project(user, tmp_path / "b", notes, {"Biology/Cells.md"})
    assert sorted(dict(written.files)) == ["Biology/cells-2.md", "biology.md"]
    _parse_back(written, {"biology.md": "Biology", "Biology/cells-2.md": "Biology::Cells"})


def _parse_back(written: adopt.Written, decks: dict[str, str]) -> None:
    for rel, text in written.files:
        cards, diagnostics = parse_file(rel, text)
        assert [d for d in diagnostics if d.code.startswith("E")] == []
        assert {c.deck for c in cards} == {decks[rel]}


def test_a_deck_title_that_markdown_would_change_goes_in_front_matter():
    kept = adopt.Kept(1, "Basic", "basic", json.dumps({"flds": [{"name": "Front"},
                                                                {"name": "Back"}]}))
    notes = [adopt.Existing("g1", 1, kept, "Top::C ##", 1, ("q", "a"), ())]
    written = adopt_sources.markdown_sources(notes)
    assert written.files == (("Top/c.md", '---\ndeck: "C ##"\n---\n\n## q\n\na\n'),)
    cards, diagnostics = parse_file(*written.files[0])
    assert [c.deck for c in cards] == ["Top::C ##"] and diagnostics == ()
