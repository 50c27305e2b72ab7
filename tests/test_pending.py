"""Steps an import cannot do, read from the lock's rows: grouped, ordered, marked done."""

from __future__ import annotations

from generator import pending
from generator.model import LockEntry


def row(guid, deck="D", text=None, **options) -> LockEntry:
    return LockEntry(guid=guid, file="a.md", deck=deck, front="f", back="b", content="c",
                     mod=1, front_text=text or guid, kind="basic", field=text or guid,
                     **options)


def test_one_step_per_deck_for_deletions_and_per_deck_pair_for_moves():
    rows = [row("a", removed=True, delete=True), row("b", removed=True, delete=True),
            row("c", deck="E", removed=True, delete=True), row("gone", removed=True),
            *(row(f"m{n}", deck="New", moved_from="Old") for n in range(12)),
            row("x", deck="New", moved_from="Older"), row("cz", empty=(3,))]
    steps = pending.steps(rows)
    assert [(s.action, len(s.guids)) for s in steps] == [
        ("delete", 2), ("delete", 1), ("move", 12), ("move", 1), ("empty", 1)]
    assert steps[2].title == ("move the cards of 12 notes from the deck 'Old' to 'New': "
                              "'m0', 'm1', 'm2' and 9 more")
    assert '"deck:Old" -"deck:Old::*"' in steps[2].search
    assert steps[4].title == ("delete the cards Anki keeps for cloze numbers taken out, in "
                              "the deck 'D': c3 of 'cz'")


def test_a_card_moved_and_then_removed_is_deleted_from_where_its_cards_are():
    [step] = pending.steps([row("a", deck="New", moved_from="Old", removed=True, delete=True)])
    assert step.action == "delete" and "in the deck 'Old'" in step.title
    assert step.search.startswith('"deck:Old" ')


def test_a_row_from_an_older_lock_gets_a_search_by_its_words_and_a_caution():
    old = LockEntry(guid="g", file="a.md", deck="D", front="f", back="b", content="c", mod=1,
                    front_text="What is *x*?", kind="basic", search="What is x?",
                    removed=True, delete=True)
    [step] = pending.steps([old])
    assert "check that the search finds only this note" in step.title
    assert step.search == '"deck:D" -"deck:D::*" "note:Markdown Basic" "Front:*What is x?*"'


def test_marking_steps_done_clears_only_them():
    rows = [row("a", removed=True, delete=True), row("m", deck="New", moved_from="Old"),
            row("both", deck="New", moved_from="Old", empty=(2,))]
    steps = pending.steps(rows)
    move = next(s for s in steps if s.action == "move")
    after = pending.mark_done(rows, [move])
    assert [(r.guid, r.delete, r.moved_from, r.empty) for r in after] == [
        ("a", True, "", ()), ("m", False, "", ()), ("both", False, "", (2,))]
    assert pending.steps(pending.mark_done(after, list(pending.steps(after)))) == ()
