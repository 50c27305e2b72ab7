"""The product's promise, checked with the real Anki backend: a rebuilt package updates
the user's notes in place, keeps every review, adds only new cards, never duplicates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import build_project, copy_seed, make_project

pytestmark = pytest.mark.anki

T0 = 1_800_000_000
SEED = "march-2025-flashcards.md"


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_seed_deck_imports_cleanly(tmp_path, anki):
    root = copy_seed(tmp_path)
    package, summary, _ = build_project(root, T0)
    log = anki.import_package(package)
    assert (len(log.new), len(log.updated), len(log.duplicate), len(log.conflicting)) == \
        (24, 0, 0, 0)
    assert anki.col.card_count() == 24
    assert [d.name for d in anki.col.decks.all_names_and_ids()
            if d.name != "Default"] == ["March 2025 Flashcards"]
    message, ok = anki.col.fix_integrity()
    assert ok and message == "Database rebuilt and optimized.", message

    fields = {n.fields[0]: n.fields[1] for n in anki.notes().values()}
    f1 = fields["F1 score"]
    assert r"\[F_1 = 2 \cdot \frac{\text{Precision} \cdot \text{Recall}}" in f1
    view = fields["PyTorch method that changes the shape of a tensor without changing its "
                  "contents."]
    assert '<pre class="highlight"><code class="language-python">' in view
    assert '<span class="mi">28</span><span class="o">*</span><span class="mi">28</span>' in view
    assert "2828" not in view
    assert fields["<code>F.relu</code>"].startswith("<p>ReLU Rectified Linear Unit")
    assert "<li>Much longer training times</li>" in fields["Downsides of deeper architectures?"]


def test_edit_round_trip_updates_in_place_and_keeps_reviews(tmp_path, anki):
    root = copy_seed(tmp_path)
    v1, _, _ = build_project(root, T0)
    anki.import_package(v1)
    assert anki.review_all() == 24
    before_notes = {g: n.id for g, n in anki.notes().items()}
    before_cards = anki.card_states()
    revlog = anki.col.db.scalar("select count() from revlog")

    source = root / "source" / SEED
    edit(source, "\nSigmoid\n", "\nSigmoid: one output squashed between 0 and 1\n")
    edit(source, "## Consequence of using a learning rate that is too low?",
         "## What is the consequence of a learning rate that is too low?")
    edit(source, "## Way of digging into what your classification model got wrong\n\n"
                 "Confusion Matrix\n\n", "")
    source.write_text(source.read_text() + "\n## What does `zero_grad` do?\n\n"
                      "Resets every gradient to zero.\n")
    v2, summary, _ = build_project(root, T0 + 1)
    assert (summary.new, summary.changed, len(summary.removed)) == (1, 2, 1)
    assert [n.renamed_from for n in summary.reworded] == [
        "Consequence of using a learning rate that is too low?"]

    anki.col.db.execute("update col set ls = scm")  # as if just synced
    log = anki.import_package(v2)
    assert (len(log.new), len(log.updated), len(log.duplicate), len(log.conflicting)) == \
        (1, 2, 21, 0)
    assert not anki.col.schema_changed(), "the import would force a full sync"

    after = anki.notes()
    assert len(after) == 25  # 24 + 1 new; the removed note stays (imports never delete)
    for guid, nid in before_notes.items():
        assert after[guid].id == nid
    states = anki.card_states()
    for cid, state in before_cards.items():
        assert states[cid] == state, "review state changed"
    assert anki.col.db.scalar("select count() from revlog") == revlog
    updated = {anki.col.get_note(n.id.nid).fields[0] for n in log.updated}
    assert updated == {"What is the most common last activation layer in a Binary "
                       "Classification CNN?",
                       "What is the consequence of a learning rate that is too low?"}
    fronts = [n.fields[0] for n in after.values()]
    assert len(fronts) == len(set(fronts)), "duplicate notes"


def test_unchanged_rebuild_is_byte_identical_and_updates_nothing(tmp_path, anki):
    root = copy_seed(tmp_path)
    v1, _, _ = build_project(root, T0)
    first = v1.read_bytes()
    shutil.copy(v1, tmp_path / "v1.apkg")
    lock_text = (root / "source" / "deck.lock").read_text()
    v2, summary, _ = build_project(root, T0 + 3600)
    assert v2.read_bytes() == first
    assert (root / "source" / "deck.lock").read_text() == lock_text
    assert summary.unchanged == 24 and summary.new == summary.changed == 0
    anki.import_package(tmp_path / "v1.apkg")
    log = anki.import_package(v2)
    assert (len(log.new), len(log.updated), len(log.duplicate)) == (0, 0, 24)


def test_a_clone_with_the_lock_builds_the_same_package(tmp_path):
    """GUIDs and bytes depend only on the sources, the lock and the clock: a fresh clone of
    the repository (no build/ folder) writes the same package."""
    a = make_project(tmp_path / "a", {"x.md": "# X\n\n## q\n\na\n"})
    pa, _, _ = build_project(a, T0)
    b = tmp_path / "b"
    shutil.copytree(a / "source", b / "source")
    pb, _, _ = build_project(b, T0)
    assert pa.read_bytes() == pb.read_bytes()


PNG_A = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a0a4d10000"
                      "000049454e44ae426082")
PNG_B = PNG_A.replace(b"\x63\xf8\xcf\xc0\xf0\x1f", b"\x63\x60\x60\x60\xf8\x0f")


def test_subfolders_cloze_reversed_tags_and_same_named_images(tmp_path, anki):
    root = make_project(tmp_path, {
        "biology/cells.md": "---\ntags: [bio]\n---\n# Cells\n\n"
                            "## The {{c1::mitochondrion}} makes ATP\n\nExtra words.\n\n"
                            "## Nucleus\n<!-- type: reversed -->\n<!-- tags: core -->\n"
                            "Holds the DNA\n\n## A diagram\n\n![a](img/diagram.png)\n",
        "physics.md": "## Speed of light\n\n![b](diagram.png)\n\n$c = 3 \\cdot 10^8$\n",
    }, media={"source/biology/img/diagram.png": PNG_A, "media/diagram.png": PNG_B})
    package, summary, compiled = build_project(root, T0)
    assert summary.media == 2
    log = anki.import_package(package)
    assert len(log.new) == 4 and len(log.conflicting) == 0
    decks = sorted(d.name for d in anki.col.decks.all_names_and_ids())
    assert decks == ["Default", "biology", "biology::Cells", "physics"]
    notes = {n.fields[0]: n for n in anki.notes().values()}
    cloze = notes["The {{c1::mitochondrion}} makes ATP"]
    assert cloze.note_type()["name"] == "Markdown Cloze" and cloze.tags == ["bio"]
    nucleus = notes["Nucleus"]
    assert len(nucleus.cards()) == 2 and sorted(nucleus.tags) == ["bio", "core"]
    names = re.findall(r'src="([^"]+)"', notes["A diagram"].fields[1] +
                       notes["Speed of light"].fields[1])
    assert len(set(names)) == 2 and all(re.fullmatch(r"diagram-[0-9a-f]{8}\.png", n)
                                        for n in names)
    media_dir = anki.col.media.dir()
    assert sorted((Path(media_dir) / n).read_bytes() for n in names) == sorted([PNG_A, PNG_B])
    assert anki.col.media.check().missing == []
    assert notes["Speed of light"].fields[2] == "physics.md"


def test_raw_html_img_is_imported_into_the_media_folder_and_named_by_the_field(tmp_path,
                                                                              anki):
    """`<img src>` sized the GitHub way reaches Anki like `![](src)`: packed under its
    content-hashed name, the field pointing at it, its attributes kept."""
    root = make_project(tmp_path, {"a.md": "## Sized\n\n<img src=\"diagram.png\" width=\"300\">\n"
                                           "\n## Inline\n\nsee <img src='img/b.png' height=20>"
                                           " here\n"},
                        media={"media/diagram.png": PNG_A, "source/img/b.png": PNG_B})
    package, summary, _ = build_project(root, T0)
    assert summary.media == 2
    log = anki.import_package(package)
    assert len(log.new) == 2
    notes = {n.fields[0]: n for n in anki.notes().values()}
    sized, inline = notes["Sized"].fields[1], notes["Inline"].fields[1]
    a = re.fullmatch(r'<img src="(diagram-[0-9a-f]{8}\.png)" width="300">', sized).group(1)
    b = re.fullmatch(r"<p>see <img src='(b-[0-9a-f]{8}\.png)' height=20> here</p>",
                     inline).group(1)
    media_dir = Path(anki.col.media.dir())
    assert ((media_dir / a).read_bytes(), (media_dir / b).read_bytes()) == (PNG_A, PNG_B)
    check = anki.col.media.check()
    assert (list(check.missing), list(check.unused)) == ([], [])


def test_a_changed_card_type_is_a_new_note_and_the_searches_find_the_old_ones(tmp_path, anki):
    """Anki cannot change a note's type on import (it would skip it as conflicting): the card
    becomes a new note, and the searches `deck pending` prints find the notes left behind."""
    root = make_project(tmp_path, {"a.md": "# A\n\n## What is **ReLU**?\n\nmax(0, x)\n\n"
                                           "## The {{c1::mitochondrion}} makes ATP\n\n"
                                           "## Gone soon\n\nbye\n"})
    v1, _, _ = build_project(root, T0)
    anki.import_package(v1)
    old = {n.fields[0]: n.id for n in anki.notes().values()}
    source = root / "source" / "a.md"
    edit(source, "## What is **ReLU**?\n", "## What is **ReLU**?\n<!-- type: reversed -->\n")
    edit(source, "## The {{c1::mitochondrion}} makes ATP\n\n## Gone soon\n\nbye\n",
         "## Gone soon\n\nbye\n")  # the cloze card is deleted
    edit(source, "## Gone soon\n\nbye\n", "")
    v2, _, compiled = build_project(root, T0 + 1)
    assert sorted(d.code for d in compiled.diagnostics) == ["W803", "W803", "W804"]
    log = anki.import_package(v2)
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (1, 0, 0)
    [step] = compiled.steps  # one deck: one step deletes all three
    assert step.action == "delete"
    hits = anki.col.find_notes(step.search)
    assert sorted(hits) == sorted(old.values()), step.search


def test_new_cards_are_studied_in_the_order_they_are_written(tmp_path, anki):
    root = copy_seed(tmp_path)
    package, _, compiled = build_project(root, T0)
    anki.import_package(package)
    deck = anki.col.decks.id_for_name("March 2025 Flashcards")
    anki.col.decks.select(deck)
    queued = anki.col.sched.get_queued_cards(fetch_limit=30).cards
    fronts = [anki.col.get_card(q.card.id).note().fields[0] for q in queued]
    assert fronts[:3] == [n.rendered.fields[0] for n in compiled.notes[:3]]
    # the position Anki shows as "New #n" (and sorts by) is the card's place in the file
    assert [anki.col.get_card(q.card.id).due for q in queued[:3]] == [1, 2, 3]
    assert fronts[:3] == ["Main benefit of using logarithms (mathematically speaking)",
                          "Why use the negative log function as a loss function",
                          "Cross Entropy Loss"]


def test_a_cloze_in_the_answer_makes_a_cloze_note_titled_by_its_heading(tmp_path, anki):
    root = make_project(tmp_path, {"c.md": "# C\n\n## Cell facts\n\nThe {{c1::mitochondrion}} "
                                           "makes {{c2::ATP}}.\n"})
    package, _, compiled = build_project(root, T0)
    assert compiled.diagnostics == ()
    anki.import_package(package)
    [note] = anki.notes().values()
    assert note.note_type()["name"] == "Markdown Cloze" and len(note.cards()) == 2
    shown = re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", note.cards()[0].question(),
                                          flags=re.S))
    assert "Cell facts" in shown and "[...]" in shown and "mitochondrion" not in shown
