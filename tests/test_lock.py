"""GUIDs and modification times are decided in `lock.py`; these pin its rules, one pass and
one promise at a time."""

import json
import unicodedata
from dataclasses import replace

import pytest

from generator import identity, lock
from generator.model import Card, Kind, Lock, RenderedCard, SourcePos

NOW = 1_800_000_000
PROJECT = "TestProject00001"


def rc(front, back="answer", path="a.md", line=1, explicit_id=None, deck="A", tags=(),
       kind=Kind.BASIC, field=None):
    card = Card(pos=SourcePos(path, line), deck=deck, kind=kind, front=front, back=back,
                tags=tags, explicit_id=explicit_id)
    return RenderedCard(card=card, fields=(field or front, back, path))


def write(assignment, id_base=NOW * 1000) -> str:
    return lock.render_lock(assignment.rows, id_base, {}, {}, {}, assignment.project)


def locked(cards, now=NOW, previous=Lock(project=PROJECT), emitted=None):
    """Assign, then read back the lock a build would write."""
    result = identity.assign(cards, previous, now, emitted=emitted)
    assert not result.diagnostics, result.diagnostics
    return result.notes, result.removed, lock.parse(write(result))


def test_new_guids_come_from_the_project_deck_and_front():
    first, _, _ = locked([rc("What is x?", "one")])
    again, _, _ = locked([rc("What is x?", "two", path="b.md", line=9)], now=NOW + 100)
    assert first[0].guid == again[0].guid == identity.guid_for(PROJECT, "A", "What is x?")
    assert first[0].status == "new" and first[0].mod == NOW
    other_project, _, _ = locked([rc("What is x?", "one")], previous=Lock(project="Other"))
    other_deck, _, _ = locked([rc("What is x?", "one", deck="B")])
    assert len({first[0].guid, other_project[0].guid, other_deck[0].guid}) == 3


def test_a_lock_without_a_project_value_gets_one_every_machine_agrees_on():
    v1 = ('{"id_base": 1, "notetypes": {}, "version": 1, "notes": [\n{"guid": "OldGuid01", '
          '"file": "a.md", "deck": "A", "type": "basic", "front": "' + identity.digest("q") +
          '", "back": "b", "content": "c", "mod": 5, "text": "q", "search": "q"}\n]}\n')
    old = lock.parse(v1)
    assert old.project == identity.upgraded_project(1) and len(old.project) == 16
    first = identity.assign([rc("q"), rc("new card")], old, NOW)
    assert first.notes[0].guid == "OldGuid01"  # existing GUIDs never change
    # two machines upgrading the same lock give new cards the same GUIDs
    assert identity.assign([rc("q"), rc("new card")], lock.parse(v1), NOW + 9).notes[1].guid == \
        first.notes[1].guid
    assert lock.parse(write(first)).project == first.project
    # a project's first lock gets a random value
    fresh = {identity.assign([rc("q")], Lock(), NOW).project for _ in range(3)}
    assert len(fresh) == 3 and all(len(p) == 16 for p in fresh)


def test_guid_and_project_value_are_safe_inside_an_html_comment():
    for n in range(200):
        assert identity.guid_for(PROJECT, "A", f"front {n}").isalnum()
        assert identity.new_project().isalnum()


def test_two_decks_of_one_project_may_each_have_the_same_question():
    cards = [rc("Summary", "cells", path="bio.md", deck="Bio"),
             rc("Summary", "atoms", path="chem.md", deck="Chem")]
    result = identity.assign(cards, Lock(project=PROJECT), NOW)
    assert result.diagnostics == ()
    assert result.notes[0].guid != result.notes[1].guid
    # and each keeps its own identity when the other changes
    again = identity.assign([replace(cards[0], fields=("Summary", "cells!", "bio.md")), cards[1]],
                        lock.parse(write(result)), NOW + 5)
    assert [n.guid for n in again.notes] == [n.guid for n in result.notes]
    assert [n.status for n in again.notes] == ["changed", "unchanged"]


def test_editing_the_back_keeps_the_guid_and_moves_the_time():
    notes, _, previous = locked([rc("q", "old"), rc("p", "same")])
    again, removed, _ = locked([rc("q", "new"), rc("p", "same")], now=NOW + 60, previous=previous)
    assert [n.guid for n in again] == [n.guid for n in notes]
    assert [n.status for n in again] == ["changed", "unchanged"]
    assert again[0].mod == NOW + 60 and again[1].mod == NOW
    assert removed == ()


def test_a_change_within_the_same_second_still_gets_a_later_time():
    _, _, previous = locked([rc("q", "old")])
    again, _, _ = locked([rc("q", "new")], now=NOW, previous=previous)
    assert again[0].mod == NOW + 1
    clock_behind, _, _ = locked([rc("q", "newer")], now=NOW - 3600, previous=previous)
    assert clock_behind[0].mod == NOW + 1


def test_content_this_machine_packaged_differently_gets_a_time_after_it():
    """A `git revert` brings back the lock of v1 (text A, time t1) after v2 (text B, t2)
    was packaged and imported: v1's text must reach Anki with a time after t2."""
    v1, _, lock1 = locked([rc("q", "A")])
    v2, _, lock2 = locked([rc("q", "B")], now=NOW + 100, previous=lock1)
    emitted = {e.guid: e for e in lock2.notes}
    reverted, _, lock3 = locked([rc("q", "A")], now=NOW + 50, previous=lock1, emitted=emitted)
    assert reverted[0].guid == v1[0].guid and reverted[0].status == "changed"
    assert reverted[0].mod == NOW + 101  # after t2, though the clock is behind it
    # the same content as last packaged keeps that time: nothing to update
    same, _, _ = locked([rc("q", "B")], now=NOW + 200, previous=lock1, emitted=emitted)
    assert (same[0].status, same[0].mod) == ("unchanged", NOW + 100)


def test_a_reworded_question_with_the_same_back_keeps_its_guid():
    notes, _, previous = locked([rc("Capital of France?", "Paris"), rc("Other", "x")])
    again, removed, _ = locked([rc("Which city is the capital of France?", "Paris"),
                                rc("Other", "x")], now=NOW + 5, previous=previous)
    assert again[0].guid == notes[0].guid
    assert again[0].renamed_from == "Capital of France?"
    assert again[0].status == "changed" and removed == ()


def test_a_typo_fix_in_the_question_keeps_its_guid_even_with_a_new_back():
    notes, _, previous = locked([rc("What is the learnign rate?", "a number")])
    again, _, _ = locked([rc("What is the learning rate?", "a step size")], previous=previous)
    assert again[0].guid == notes[0].guid


def test_a_templated_question_about_another_subject_is_a_new_card():
    notes, _, previous = locked([rc("Capital of Italy?", "Rome")])
    again, removed, _ = locked([rc("Capital of Germany?", "Berlin")], previous=previous)
    assert again[0].guid != notes[0].guid and [e.guid for e in removed] == [notes[0].guid]
    rephrased, _, _ = locked([rc("What's the capital of Italy?", "Rome, since 1871")],
                             previous=previous)
    assert rephrased[0].guid != notes[0].guid  # 0.76 alike, another back: a new card
    same_back, _, _ = locked([rc("What's the capital of Italy?", "Rome")], previous=previous)
    assert same_back[0].guid == notes[0].guid


def test_rewording_is_not_matched_across_files_or_to_unrelated_cards():
    notes, _, previous = locked([rc("Capital of France?", "Paris")])
    other_file, removed, _ = locked([rc("Capital of France, please?", "Paris", path="b.md")],
                                    previous=previous)
    assert other_file[0].guid != notes[0].guid and len(removed) == 1
    unrelated, removed, _ = locked([rc("What is entropy?", "disorder")], previous=previous)
    assert unrelated[0].guid != notes[0].guid and removed[0].guid == notes[0].guid


def test_the_same_short_back_alone_does_not_carry_identity_to_a_new_question():
    notes, _, previous = locked([rc("Most common last activation layer in a CNN?", "SoftMax")])
    again, removed, _ = locked([rc("Which function maps logits to probabilities?", "SoftMax")],
                               previous=previous)
    assert again[0].guid != notes[0].guid and again[0].status == "new"
    assert [e.guid for e in removed] == [notes[0].guid]


ORIGINAL = "Which organelle makes ATP?"
FINAL = "Which organelle produces ATP for the cell?"


def saves(texts, back="Mitochondria", start=None):
    """Build after each save of one file whose first card's question is `texts[k]` (None:
    the heading line is gone for a moment, its text part of the card above)."""
    other = rc("What holds the DNA?", "Nucleus", line=1)
    notes, _, current = locked([other, rc(ORIGINAL, back, line=5)]) if start is None else start
    first = notes[1].guid
    for step, text in enumerate(texts, 1):
        cards = [other] if text is None else [other, rc(text, back, line=5)]
        if text is None:
            cards = [rc("What holds the DNA?", "Nucleus\n\n" + back, line=1)]
        result = identity.assign(cards, current, NOW + step)
        current = lock.parse(write(result))
        notes = result.notes
    return first, notes[-1].guid, current


def test_the_same_edit_in_one_save_keeps_the_identity():
    first, last, _ = saves([FINAL])
    assert first == last


@pytest.mark.parametrize("texts", [
    ["W", "Which org", "Which organelle prod", FINAL],
    [FINAL[:n] for n in range(1, len(FINAL) + 1)],  # typed over, one key at a time
    [ORIGINAL[:n] for n in range(len(ORIGINAL) - 1, 0, -1)] + [FINAL[:n] for n in
                                                              range(1, len(FINAL) + 1)],
    ["W", None, "Wh", "Which organelle", None, FINAL],  # the heading line broken meanwhile
    ["Q", "X", "Q", "Which organelle", FINAL],
], ids=["words", "keys", "deleted_then_typed", "heading_broken", "back_and_forth"])
def test_a_question_retyped_over_many_saves_keeps_its_identity(texts):
    first, last, current = saves(texts)
    assert last == first
    row = next(e for e in current.notes if e.guid == first)
    assert not row.removed and row.front_text == FINAL


def test_a_question_being_typed_leaves_at_most_one_stand_in_note():
    first, last, current = saves(["W", "Which", "Who", "Which org", FINAL])
    assert last == first
    left = [e for e in current.notes if e.removed]
    assert len(left) == 1 and left[0].after == first and left[0].delete
    # an hour later, a stand-in is a card of its own: a new question is a new note
    _, _, settled = saves(["W", "Which"])
    standin = next(e for e in settled.notes if e.after and not e.removed)
    later = identity.assign([rc("What holds the DNA?", "Nucleus", line=1),
                         rc("Something else entirely", "Mitochondria", line=5)],
                        settled, NOW + 2 + identity.TYPING)
    assert later.notes[1].guid != standin.guid


def test_a_question_retyped_over_many_saves_keeps_its_identity_whatever_the_saves():
    """Whatever the saves in between, an identity that one save from the first question to
    the last keeps is kept. (Saves in between may also keep one that a single save would not:
    a question reworded bit by bit is the same card.)"""
    from hypothesis import given, settings, strategies as st

    words = st.sampled_from(["Which", "organelle", "makes", "produces", "ATP?", "the",
                             "cell", "W", "Wh", "energy", "for", "?", "mito"])
    text = st.lists(words, min_size=1, max_size=7).map(" ".join)

    @settings(max_examples=300, derandomize=True, deadline=None)
    @given(st.lists(st.one_of(text, st.none()), max_size=6), text)
    def path_independent(middle, final):
        one_save = saves([final])
        many = saves(middle + [final])
        if one_save[0] == one_save[1]:
            assert many[0] == many[1], (middle, final)

    path_independent()


def test_an_explicit_id_wins_and_a_new_guid_never_reuses_one_in_use():
    notes, _, previous = locked([rc("q", "a")])
    taken = notes[0].guid
    again, _, _ = locked([rc("renamed entirely", "zzz", explicit_id=taken), rc("q", "a2")],
                         previous=previous)
    assert again[0].guid == taken
    assert again[1].guid not in (taken, "") and again[1].status == "new"


def test_removed_cards_are_reported_and_kept_as_pending_deletions():
    notes, _, previous = locked([rc("keep", "k"), rc("gone", "g")])
    _, removed, after = locked([rc("keep", "k")], previous=previous)
    assert [e.front_text for e in removed] == ["gone"]
    row = next(e for e in after.notes if e.front_text == "gone")
    assert row.removed and row.delete and row.field == "gone"
    # pasted back: live again, nothing to delete
    back, removed, again = locked([rc("keep", "k"), rc("gone", "g")], previous=after)
    assert back[1].guid == notes[1].guid and removed == ()
    assert not any(e.delete or e.removed for e in again.notes)


def test_duplicate_fronts_in_one_deck_and_duplicate_ids_are_errors_naming_both_places():
    result = identity.assign([rc("Same?", line=3), rc("Same?", path="b.md", line=7)],
                         Lock(project=PROJECT), NOW)
    assert [str(d) for d in result.diagnostics] == [
        "b.md:7:1: E103 the same front as the card at a.md:3:1 in the deck 'A'; reword one, "
        "or give each an '<!-- id: ... -->'"]
    result = identity.assign([rc("x", explicit_id="K", line=1), rc("y", explicit_id="K", line=5)],
                         Lock(project=PROJECT), NOW)
    assert [d.code for d in result.diagnostics] == ["E104"]


def test_lock_text_round_trips_and_is_stable(tmp_path):
    result = identity.assign([rc("q", "a"), rc("ünï", "b", line=4)], Lock(project=PROJECT), NOW)
    hashes, mods, shapes = {1: "h"}, {1: NOW}, {1: "s"}
    text = lock.render_lock(result.rows, NOW * 1000, hashes, mods, shapes, PROJECT)
    assert text == lock.render_lock(result.rows, NOW * 1000, hashes, mods, shapes, PROJECT)
    path = tmp_path / "deck.lock"
    lock.write_atomic(path, text)
    back = lock.read(path)
    assert [e.guid for e in back.notes] == [n.guid for n in result.notes]
    assert back.id_base == NOW * 1000 and back.notetypes == ((1, "h", NOW, "s"),)
    assert back.project == PROJECT and back.reconciled == ""
    assert len(text.splitlines()) == 2 + len(result.notes)  # one note per line
    json.loads(text)


@pytest.mark.parametrize("text", ["{not json", '{"version": 99}', '{"version": 1}', "[]",
                                  "<<<<<<< HEAD\n=======\n>>>>>>> b\n"])
def test_a_corrupt_lock_is_an_error_not_a_silent_reset(text):
    with pytest.raises(lock.LockError, match="--reset-lock"):
        lock.parse(text)


def test_note_type_time_moves_only_when_its_css_or_templates_change():
    recorded = Lock(notetypes=((1, "old", NOW, "s"),))
    assert lock.notetype_mods(recorded, {1: "old"}, NOW + 50) == {1: NOW}
    assert lock.notetype_mods(recorded, {1: "new"}, NOW) == {1: NOW + 1}


def test_a_changed_note_type_shape_is_detected():
    recorded = Lock(notetypes=((1, "h", NOW, "shape-a"), (2, "h", NOW, "")))
    assert lock.changed_shapes(recorded, {1: "shape-a", 2: "x"}) == []
    assert lock.changed_shapes(recorded, {1: "shape-b", 2: "x"}) == [1]


def test_an_unpinned_card_may_not_share_its_front_with_a_pinned_one_in_its_deck():
    result = identity.assign([rc("q", explicit_id="X1", line=3), rc("q", line=8)],
                         Lock(project=PROJECT), NOW)
    assert [str(d) for d in result.diagnostics] == [
        "a.md:8:1: E103 the same front as the card at a.md:3:1 in the deck 'A'; reword one, "
        "or give each an '<!-- id: ... -->'"]


def test_a_changed_card_type_makes_a_new_note_and_leaves_the_old_one_to_delete():
    notes, _, previous = locked([rc("q", kind=Kind.BASIC)])
    result = identity.assign([rc("q", kind=Kind.REVERSED)], previous, NOW + 5)
    again = result.notes
    assert again[0].guid != notes[0].guid and again[0].status == "new"
    assert [(n.guid, e.guid, e.kind) for n, e in result.retyped] == [
        (again[0].guid, notes[0].guid, "basic")]
    assert result.removed == ()
    old = next(r for r in result.rows if r.guid == notes[0].guid)
    assert old.removed and old.delete
    pinned = identity.assign([rc("q", kind=Kind.REVERSED, explicit_id=notes[0].guid)],
                         previous, NOW + 5)
    assert [d.code for d in pinned.diagnostics] == ["E804"]


def test_a_card_cut_and_pasted_over_two_builds_keeps_its_guid():
    notes, _, first = locked([rc("Capital of France?", "Paris"), rc("other", "x")])
    reworded, _, second = locked([rc("Which city is the capital of France?", "Paris"),
                                  rc("other", "x")], previous=first)
    guid = reworded[0].guid
    assert guid == notes[0].guid
    cut, removed, third = locked([rc("other", "x")], previous=second)  # saved without it
    assert [e.guid for e in removed] == [guid]
    pasted, removed, _ = locked([rc("other", "x"), rc("Which city is the capital of France?",
                                                      "Paris", path="b.md")], previous=third)
    assert pasted[1].guid == guid and removed == ()


def test_a_deck_change_is_pending_until_done_and_cleared_when_moved_back():
    notes, _, first = locked([rc("q", deck="Old")])
    moved, _, second = locked([rc("q", deck="New")], previous=first)
    assert moved[0].guid == notes[0].guid and moved[0].row.moved_from == "Old"
    again, _, third = locked([rc("q", deck="Newer")], previous=second)
    assert again[0].row.moved_from == "Old"  # where its cards still are in Anki
    back, _, _ = locked([rc("q", deck="Old")], previous=third)
    assert back[0].row.moved_from == ""


def test_cloze_numbers_taken_out_are_pending_as_empty_cards():
    cloze = "{{c1::a}} {{c2::b}} {{c3::c}}"
    _, _, first = locked([rc(cloze, "", kind=Kind.CLOZE)])
    assert first.notes[0].clozes == (1, 2, 3)
    fewer, _, second = locked([rc("{{c1::a}} b c", "", kind=Kind.CLOZE)], previous=first)
    assert fewer[0].row.clozes == (1,) and fewer[0].row.empty == (2, 3)
    back, _, _ = locked([rc("{{c1::a}} {{c2::b}} c", "", kind=Kind.CLOZE)], previous=second)
    assert back[0].row.empty == (3,)


def test_a_lock_written_from_nfd_text_finds_its_cards_again_under_nfc():
    nfd = unicodedata.normalize("NFD", "Été")
    old = identity.assign([rc(nfd, "summer", deck=unicodedata.normalize("NFD", "Français"))],
                      Lock(project=PROJECT), NOW)
    read = lock.parse(write(old))
    assert read.notes[0].front_text == "Été" and read.notes[0].deck == "Français"
    again = identity.assign([rc("Été", "summer", deck="Français")], read, NOW + 5)
    assert again.notes[0].guid == old.notes[0].guid


def test_a_lock_row_with_a_wrong_value_is_a_corrupt_lock():
    result = identity.assign([rc("q", "a")], Lock(project=PROJECT), NOW)
    text = write(result)
    guid = result.notes[0].guid
    for bad in (text.replace('"text": "q"', '"text": 5'),
                text.replace(f'"guid": "{guid}"', '"guid": null'),
                text.replace(f'"mod": {NOW}', '"mod": "soon"'),
                text.replace('"field": "q"', '"field": "q", "empty": "3"')):
        with pytest.raises(lock.LockError, match="wrong value|not a list"):
            lock.parse(bad)


def test_unchanged_rows_keep_their_lines_and_the_lock_is_the_same_as_written_anew():
    cards = [rc("q", "a"), rc("ünï", "b", line=4), rc("{{c1::x}} y", "", kind=Kind.CLOZE),
             rc('say "hi"\\', "c", deck="Other")]
    first = identity.assign(cards, Lock(project=PROJECT), NOW)
    text = write(first)
    read = lock.parse(text)
    assert len(read.lines) == len(read.notes) == 4
    again = identity.assign(cards[:2] + [rc("changed", "d")] + cards[3:], read, NOW + 5)
    assert sum(row is entry for row in again.rows for entry in read.notes) == 3
    args = (NOW * 1000, {}, {}, {}, PROJECT)
    assert lock.render_lock(again.rows, *args, parsed=read) == lock.render_lock(again.rows, *args)
    # a lock laid out otherwise (edited by hand) is read, and its lines are not reused
    pretty = json.dumps(json.loads(text), indent=2)
    assert lock.parse(pretty).lines == () and lock.parse(pretty).notes == read.notes


def test_a_lock_row_is_the_json_of_its_fields():
    """Rows are written by hand for speed; they must read as the same JSON, byte for byte,
    as the standard encoder writes it, and read back as the same row."""
    from hypothesis import given, settings, strategies as st

    from generator.model import LockEntry

    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
    numbers = st.lists(st.integers(1, 99), max_size=3).map(tuple)

    @settings(max_examples=400, derandomize=True, deadline=None)
    @given(text, text, text, text, text, st.integers(0, 2**62), st.booleans(), text, numbers,
           st.booleans(), text, numbers, st.lists(text, max_size=3).map(tuple))
    def same(guid, file, deck, front, field, mod, removed, after, clozes, delete, moved, empty,
             was):
        entry = LockEntry(guid=guid or "g", file=file or "f", deck=deck, front=front[:16] or "h",
                          back="b", content="c", mod=mod, front_text=front, kind="basic",
                          field=field, removed=removed, after=after, was=was, clozes=clozes,
                          delete=delete, moved_from=moved, empty=empty)
        row = {"guid": entry.guid, "file": entry.file, "deck": deck, "type": "basic",
               "front": entry.front, "back": "b", "content": "c", "mod": mod, "text": front,
               "field": field}
        for key, value in (("clozes", list(clozes)), ("after", after), ("was", list(was)),
                           ("removed", removed),
                           ("delete", delete), ("moved_from", moved), ("empty", list(empty))):
            if value:
                row[key] = value
        expected = json.JSONEncoder(ensure_ascii=False).encode(row)
        assert lock.row_json(entry) == expected
        if all(unicodedata.is_normalized("NFC", s) for s in (front, deck, entry.file, moved,
                                                               *was)):
            assert lock._entry(json.loads(expected)) == entry

    same()


def test_write_atomic_writes_a_file_whose_name_is_250_bytes(tmp_path):
    path = tmp_path / ("lock-" * 49 + "ü" * 2 + "x")
    assert len(path.name.encode()) == 250
    lock.write_atomic(path, "text\n")
    assert path.read_text() == "text\n" and [p.name for p in tmp_path.iterdir()] == [path.name]
