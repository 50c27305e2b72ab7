"""GUIDs and modification times are decided in `lock.py`; these pin its rules."""

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from generator import lock
from generator.model import Card, Kind, Lock, RenderedCard, SourcePos

NOW = 1_800_000_000


def rc(front, back="answer", path="a.md", line=1, explicit_id=None, deck="A", tags=()):
    card = Card(pos=SourcePos(path, line), deck=deck, kind=Kind.BASIC, front=front, back=back,
                tags=tags, explicit_id=explicit_id)
    return RenderedCard(card=card, fields=(front, back, path))


def locked(cards, now=NOW, previous=Lock()):
    """Assign, then read back the lock a build would write."""
    notes, removed, _, kept, diagnostics = lock.assign(cards, previous, now)
    assert not diagnostics
    text = lock.render_lock(notes, kept, NOW * 1000, {}, {}, {})
    path = Path(tempfile.mkdtemp()) / "deck.lock"
    path.write_text(text)
    return notes, removed, lock.read(path)


def test_without_a_lock_guids_come_from_the_front_only():
    first, _, _ = locked([rc("What is x?", "one")])
    second, _, _ = locked([rc("What is x?", "two", path="b.md", line=9)], now=NOW + 100)
    assert first[0].guid == second[0].guid == lock.guid_for("What is x?")
    assert first[0].status == "new" and first[0].mod == NOW


def test_guid_is_safe_inside_an_html_comment():
    for n in range(200):
        assert lock.guid_for(f"front {n}").isalnum()


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


def test_an_explicit_id_wins_and_a_new_guid_never_reuses_one_in_use():
    notes, _, previous = locked([rc("q", "a")])
    taken = notes[0].guid
    # a new card whose front hashes to a GUID held by another card gets a different one
    again, _, _ = locked([rc("renamed entirely", "zzz", explicit_id=taken), rc("q", "a2")],
                         previous=previous)
    assert again[0].guid == taken
    assert again[1].guid not in (taken, "") and again[1].status == "new"


def test_removed_cards_are_reported():
    notes, _, previous = locked([rc("keep", "k"), rc("gone", "g")])
    _, removed, _ = locked([rc("keep", "k")], previous=previous)
    assert [e.front_text for e in removed] == ["gone"]


def test_duplicate_fronts_and_ids_are_errors_naming_both_places():
    *_, diagnostics = lock.assign([rc("Same?", line=3), rc("Same?", path="b.md", line=7)],
                                  Lock(), NOW)
    assert [str(d) for d in diagnostics] == [
        "b.md:7:1: E103 the same front as the card at a.md:3:1; reword one, or give each "
        "an '<!-- id: ... -->'"]
    *_, diagnostics = lock.assign([rc("x", explicit_id="K", line=1),
                                   rc("y", explicit_id="K", line=5)], Lock(), NOW)
    assert [d.code for d in diagnostics] == ["E104"]


def test_lock_text_round_trips_and_is_stable(tmp_path):
    notes, _, _ = locked([rc("q", "a"), rc("ünï", "b", line=4)])
    hashes, mods, shapes = {1: "h"}, {1: NOW}, {1: "s"}
    text = lock.render_lock(notes, (), NOW * 1000, hashes, mods, shapes)
    assert text == lock.render_lock(notes, (), NOW * 1000, hashes, mods, shapes)
    path = tmp_path / "deck.lock"
    lock.write_atomic(path, text)
    back = lock.read(path)
    assert [e.guid for e in back.notes] == [n.guid for n in notes]
    assert back.id_base == NOW * 1000 and back.notetypes == ((1, "h", NOW, "s"),)
    assert len(text.splitlines()) == 2 + len(notes)  # one note per line for readable diffs
    json.loads(text)


@pytest.mark.parametrize("text", ["{not json", '{"version": 99}', '{"version": 1}', "[]"])
def test_a_corrupt_lock_is_an_error_not_a_silent_reset(tmp_path, text):
    path = tmp_path / "deck.lock"
    path.write_text(text)
    with pytest.raises(lock.LockError, match="--reset-lock"):
        lock.read(path)


def test_note_type_time_moves_only_when_its_css_or_templates_change():
    recorded = Lock(notetypes=((1, "old", NOW, "s"),))
    assert lock.notetype_mods(recorded, {1: "old"}, NOW + 50) == {1: NOW}
    assert lock.notetype_mods(recorded, {1: "new"}, NOW) == {1: NOW + 1}


def test_a_changed_note_type_shape_is_detected():
    recorded = Lock(notetypes=((1, "h", NOW, "shape-a"), (2, "h", NOW, "")))
    assert lock.changed_shapes(recorded, {1: "shape-a", 2: "x"}) == []
    assert lock.changed_shapes(recorded, {1: "shape-b", 2: "x"}) == [1]


def rk(front, kind, **options):
    rendered = rc(front, **options)
    return replace(rendered, card=replace(rendered.card, kind=kind))


def test_an_unpinned_card_may_not_share_its_front_with_a_pinned_one():
    *_, diagnostics = lock.assign([rc("q", explicit_id="X1", line=3), rc("q", line=8)],
                                  Lock(), NOW)
    assert [str(d) for d in diagnostics] == [
        "a.md:8:1: E103 the same front as the card at a.md:3:1; reword one, or give each an "
        "'<!-- id: ... -->'"]


def test_a_changed_card_type_makes_a_new_note_and_says_so():
    notes, _, previous = locked([rk("q", Kind.BASIC)])
    again, removed, retyped, kept, diagnostics = lock.assign([rk("q", Kind.REVERSED)],
                                                             previous, NOW + 5)
    assert again[0].guid != notes[0].guid and again[0].status == "new"
    assert [(n.guid, e.guid, e.kind) for n, e in retyped] == [(again[0].guid, notes[0].guid,
                                                              "basic")]
    assert removed == () and [e.guid for e in kept] == [notes[0].guid]
    _, _, _, _, pinned = lock.assign([rk("q", Kind.REVERSED, explicit_id=notes[0].guid)],
                                     previous, NOW + 5)
    assert [d.code for d in pinned] == ["E804"]


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


def test_a_lock_row_with_a_wrong_value_is_a_corrupt_lock(tmp_path):
    notes, _, _ = locked([rc("q", "a")])
    text = lock.render_lock(notes, (), NOW * 1000, {}, {}, {})
    for bad in (text.replace('"text": "q"', '"text": 5'),
                text.replace(f'"guid": "{notes[0].guid}"', '"guid": null'),
                text.replace(f'"mod": {NOW}', '"mod": "soon"')):
        path = tmp_path / "deck.lock"
        path.write_text(bad)
        with pytest.raises(lock.LockError, match="wrong value"):
            lock.read(path)


def test_a_lock_row_is_the_json_of_its_fields():
    """Rows are written by hand for speed; they must read as the same JSON, byte for byte,
    as the standard encoder writes it."""
    from hypothesis import given, settings, strategies as st

    from generator.model import CardKeys

    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)

    @settings(max_examples=500, derandomize=True, deadline=None)
    @given(text, text, text, text, text, st.integers(0, 2**62), st.booleans())
    def same(guid, file, deck, front, search, mod, removed):
        keys = CardKeys(front=front[:16], back="b", content="c", text=front, search=search)
        row = {"guid": guid, "file": file, "deck": deck, "type": "basic", "front": front[:16],
               "back": "b", "content": "c", "mod": mod, "text": front, "search": search}
        if removed:
            row["removed"] = True
        expected = json.JSONEncoder(ensure_ascii=False).encode(row)
        assert lock._row(guid, file, deck, "basic", keys, mod, removed=removed) == expected

    same()
