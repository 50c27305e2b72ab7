"""Identity the way people live with the tool for months: several projects in one
collection, git reverts, stashes, branches and merges, an autosaving editor, files saved on a
Mac, a lock that goes missing or comes from elsewhere, and the steps an import cannot do.
Anki's behaviour is checked with the real backend, git's with real git."""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path

import pytest

from generator import build, identity, lock as lockfile
from generator.cli import main
from tests.conftest import build_project, git, make_project

T0 = 1_800_000_000
PNG_A = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a0a4d10000"
                      "000049454e44ae426082")
PNG_B = PNG_A.replace(b"\x63\xf8\xcf\xc0\xf0\x1f", b"\x63\x60\x60\x60\xf8\x0f")


@pytest.fixture
def run(monkeypatch, capsys):
    def run(root, *args, now=T0):
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(now))
        monkeypatch.delenv("DECK_DEBUG", raising=False)
        code = main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and "internal error" not in out + err
        return code, out, err

    return run


def fields(anki) -> dict[str, str]:
    """First field -> second field of every note in the collection."""
    return {n.fields[0]: n.fields[1] for n in anki.notes().values()}


def compiled_rows(root: Path):
    return lockfile.read(root / "source" / "deck.lock").notes


def guids(root: Path) -> dict[str, str]:
    """Front text -> GUID of every live card in the project's lock."""
    return {e.front_text: e.guid for e in lockfile.read(root / "source" / "deck.lock").notes
            if not e.removed}


# --- 1. projects sharing a question ---------------------------------------------------

def test_two_projects_sharing_a_question_stay_apart_in_one_collection(tmp_path, anki):
    spanish = make_project(tmp_path / "es", {"words.md": "# Spanish\n\n## hello\n\nhola\n"})
    french = make_project(tmp_path / "fr", {"words.md": "# French\n\n## hello\n\nbonjour\n"})
    es, _, _ = build_project(spanish, T0)
    fr, _, _ = build_project(french, T0)
    anki.import_package(es)
    assert anki.review_all() == 1
    log = anki.import_package(fr)
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (1, 0, 0)
    by_deck = {anki.col.decks.name(n.cards()[0].did): n.fields[1]
               for n in anki.notes().values()}
    assert by_deck == {"Spanish": "<p>hola</p>", "French": "<p>bonjour</p>"}
    spanish_card = anki.col.find_cards('"deck:Spanish"')
    assert anki.col.get_card(spanish_card[0]).reps == 1  # its history stayed on Spanish


def test_two_decks_of_one_project_may_each_have_a_summary_card(tmp_path, anki):
    root = make_project(tmp_path, {"cells.md": "# Cells\n\n## Summary\n\nmembranes\n",
                                   "atoms.md": "# Atoms\n\n## Summary\n\nnuclei\n"})
    package, summary, compiled = build_project(root, T0)
    assert compiled.diagnostics == () and summary.new == 2
    anki.import_package(package)
    assert sorted(n.fields[1] for n in anki.notes().values()) == ["<p>membranes</p>",
                                                                  "<p>nuclei</p>"]


# --- 2. searches that find exactly the note meant --------------------------------------

SEARCHED = {
    "bio.md": ('# Bio "quoted"\n\n## Cell\n\nunit of life\n\n## Cell wall\n\nplants\n\n'
               "## What is a cell membrane?\n\nlipids\n\n## cell\n\nthe same word, lower case\n\n"
               "## Cell: the unit\n\nwith a colon\n\n## <b>bold</b> question\n\nhtml\n\n"
               "## `a*b` and `c_d`\n\ncode\n\n## Speed is $x_i^2 \\cdot y$\n\nmath\n\n"
               "## The {{c1::mitochondrion}} makes ATP\n\n"
               '## back\\slash, "quotes" and 100% * _ :\n\nodd\n'),
    "odd/a_b.md": "# a_b*c:(d) -e\n\n## Cell\n\nin another deck\n\n## Stays\n\nhere\n",
}
REMOVED = ["Cell", "<b>bold</b> question", "`a*b` and `c_d`", "Speed is $x_i^2 \\cdot y$",
           "The {{c1::mitochondrion}} makes ATP", 'back\\slash, "quotes" and 100% * _ :']


def test_the_printed_searches_find_exactly_the_notes_meant(tmp_path, anki):
    root = make_project(tmp_path, SEARCHED)
    other = make_project(tmp_path / "other", {"bio.md": "# Biology\n\n## Cell\n\nelsewhere\n"})
    anki.import_package(build_project(other, T0)[0])
    v1, _, _ = build_project(root, T0)
    anki.import_package(v1)
    anki.review_all()
    ids = {g: n.id for g, n in anki.notes().items()}
    bio_deck = {e.front_text: e.guid for e in compiled_rows(root) if e.deck == 'Bio "quoted"'}
    bio = root / "source" / "bio.md"
    text = bio.read_text()
    for front in REMOVED:
        start = text.index(f"## {front}\n")
        end = text.find("\n## ", start + 3)
        text = text[:start] + (text[end + 1:] if end != -1 else "")
    bio.write_text(text)
    odd = root / "source" / "odd" / "a_b.md"
    odd.write_text("# a_b*c:(d) -e\n\n## Stays\n\nhere\n")  # its Cell removed too
    (root / "source" / "odd" / "moved.md").write_text("# Elsewhere\n\n## Moved\n\nm\n")
    v2, _, compiled = build_project(root, T0 + 10)
    anki.import_package(v2)
    odd.write_text("# Renamed :: deck\n\n## Stays\n\nhere\n")  # a deck move, as a step too
    v3, _, compiled = build_project(root, T0 + 20)
    anki.import_package(v3)

    steps = {(s.action, s.title.split("'")[1]): s for s in compiled.steps}
    assert sorted(steps) == [("delete", 'Bio "quoted"'), ("delete", "odd::a_b*c:(d) -e"),
                             ("move", "odd::a_b*c:(d) -e")]
    expected = {("delete", 'Bio "quoted"'): {bio_deck[f] for f in REMOVED},
                ("delete", "odd::a_b*c:(d) -e"): {identity.guid_for(
                    compiled.project, "odd::a_b*c:(d) -e", "Cell")},
                ("move", "odd::a_b*c:(d) -e"): {guids(root)["Stays"]}}
    for key, step in steps.items():
        meant = {ids[g] for g in expected[key]}
        assert set(step.guids) == expected[key]
        assert set(anki.col.find_notes(step.search)) == meant, step.search
        # the browser normalises what is typed before searching: the same notes
        assert set(anki.col.find_notes(anki.col.build_search_string(step.search))) == meant


def test_a_search_that_would_also_find_a_live_note_says_so_or_tells_them_apart(tmp_path, anki):
    """Live cards with the same question in the deck searched: a card moved to another file
    (then the source file tells the notes apart), or pinned twins in one file (then the
    step says which to leave alone and never to select all)."""
    root = make_project(tmp_path, {
        "d.md": "# D\n\n## Summary\n\nold summary\n\n## Other\n\nx\n\n## Twin\n"
                "<!-- id: twin1 -->\none\n\n## Twin\n<!-- id: twin2 -->\ntwo\n",
        "e.md": "# E\n\n## Thing\n\ny\n"})
    anki.import_package(build_project(root, T0)[0])
    ids = {g: n.id for g, n in anki.notes().items()}
    d, e = root / "source" / "d.md", root / "source" / "e.md"
    # the Summary card moves to e.md (deck E); then a new Summary is written in d.md
    d.write_text("# D\n\n## Other\n\nx\n\n## Twin\n<!-- id: twin1 -->\none\n\n## Twin\n"
                 "<!-- id: twin2 -->\ntwo\n")
    e.write_text("# E\n\n## Thing\n\ny\n\n## Summary\n\nold summary\n")
    anki.import_package(build_project(root, T0 + 5)[0])
    d.write_text("# D\n\n## Summary\n\nA brand new summary\n\n## Other\n\nx\n\n"
                 "## Twin\n<!-- id: twin2 -->\ntwo\n")  # and a twin goes
    package, _, compiled = build_project(root, T0 + 6)
    anki.import_package(package)
    moved = next(n.guid for n in compiled.notes if n.card.pos.path == "e.md"
                 and n.keys.text == "Summary")
    steps = {s.action: s for s in compiled.steps}
    assert "tells them apart by their source file" in steps["move"].title
    assert list(anki.col.find_notes(steps["move"].search)) == [ids[moved]]
    assert "careful: a card still in 'd.md' has the same question" in steps["delete"].title
    assert "never all of them" in steps["delete"].title
    assert steps["delete"].how == ("in Anki's browser, search, select only the note meant, "
                                   "then Notes > Delete")
    found = set(anki.col.find_notes(steps["delete"].search))
    assert found == {ids["twin1"], ids["twin2"]}  # as the step says: both, and which to keep


def test_decks_whose_names_differ_only_in_case_are_an_error(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# Bio\n\n## Summary\n\ncells\n",
                                   "b.md": "# bio\n\n## Summary\n\natoms\n",
                                   "c.md": "# BIO::Sub\n\n## q\n\nz\n"})
    code, _, err = run(root, "build")
    assert code == 1 and err.splitlines()[:2] == [
        "source/b.md:3:1: E806 the deck 'bio' differs from the deck 'Bio' (a.md) only in letter "
        "case, which Anki ignores: give both the same name, or two different ones",
        "source/c.md:3:1: E806 the deck 'BIO' differs from the deck 'Bio' (a.md) only in letter "
        "case, which Anki ignores: give both the same name, or two different ones"]


# --- 3. git revert and git stash -------------------------------------------------------

def test_a_git_revert_or_stash_of_an_imported_edit_reaches_anki(tmp_path, anki):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q1\n\nfirst answer\n\n## q2\n\nother\n"})
    git(root, "init", "-q")
    source = root / "source" / "a.md"

    def step(now, text=None, commit=None):
        if text is not None:
            source.write_text(f"# A\n\n## q1\n\n{text}\n\n## q2\n\nother\n")
        package, summary, _ = build_project(root, now)
        if commit:  # everything, build/ too, as some people do: the memory stays out
            git(root, "add", "-A")
            git(root, "commit", "-qm", commit)
            assert "build/memory" not in git(root, "ls-files")
        log = anki.import_package(package)
        return fields(anki)["q1"], len(log.updated)

    assert step(T0, commit="v1") == ("<p>first answer</p>", 0)
    anki.review_all()
    assert step(T0 + 100, "second answer", commit="v2") == ("<p>second answer</p>", 1)
    git(root, "revert", "--no-edit", "HEAD")
    # the lock of v1 came back with v1's time; the clock is even behind v2's time
    assert step(T0 + 50, commit="rebuilt after the revert") == ("<p>first answer</p>", 1)
    assert step(T0 + 200, "third answer") == ("<p>third answer</p>", 1)
    git(root, "stash")
    assert step(T0 + 210) == ("<p>first answer</p>", 1)
    git(root, "checkout", "--", ".")  # the lock and package rebuilt meanwhile
    git(root, "stash", "pop")
    assert step(T0 + 220) == ("<p>third answer</p>", 1)
    assert len(anki.notes()) == 2
    assert anki.col.db.scalar("select count() from revlog") == 2  # the reviews stayed


# --- 4. retyping a question over many saves --------------------------------------------

ORIGINAL = "Which organelle makes ATP?"
RETYPED = "Which organelle produces ATP for the cell?"


def test_a_question_retyped_over_autosaved_builds_keeps_its_note(tmp_path, anki):
    root = make_project(tmp_path, {"cells.md": f"# Cells\n\n## {ORIGINAL}\n\nMitochondria\n\n"
                                               "## What holds the DNA?\n\nNucleus\n"})
    source = root / "source" / "cells.md"
    v1, _, _ = build_project(root, T0)
    anki.import_package(v1)
    anki.review_all()
    note_id = next(n.id for n in anki.notes().values() if n.fields[0] == ORIGINAL)
    saves = ["W", "Which", "Which org", None, "Which organelle pro", RETYPED]
    for n, heading in enumerate(saves, 1):
        body = (f"## {heading}\n\nMitochondria\n\n" if heading else "Mitochondria\n\n")
        source.write_text(f"# Cells\n\n{body}## What holds the DNA?\n\nNucleus\n")
        package, summary, compiled = build_project(root, T0 + n)
        if n == 2:  # imported while half typed: a stand-in note the user may have to delete
            anki.import_package(package)
    assert [n.renamed_from for n in summary.reworded] == ["Which organelle pro"]
    log = anki.import_package(package)
    assert (len(log.new), len(log.updated)) == (0, 1)
    note = anki.col.get_note(note_id)
    assert note.fields[0] == RETYPED and note.cards()[0].reps == 1
    # the stand-in imported while typing is the one note left to delete
    [step] = compiled.steps
    assert "stood in while a question was retyped" in step.title
    assert [anki.col.get_note(n).fields[0] for n in anki.col.find_notes(step.search)] == [
        "Which"]


def test_deck_watch_prints_the_cards_that_kept_a_reworded_identity(tmp_path):
    import subprocess
    import sys
    import threading

    root = make_project(tmp_path, {"a.md": f"# A\n\n## {ORIGINAL}\n\nMitochondria\n"})
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(T0)}
    watcher = subprocess.Popen([sys.executable, "-m", "generator", "watch"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=env)
    lines: list[str] = []
    seen = threading.Event()

    def read():
        for line in watcher.stdout:
            lines.append(line)
            seen.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert seen.wait(30) and "built" in lines[0]
        (root / "source" / "a.md").write_text(f"# A\n\n## {RETYPED}\n\nMitochondria\n")
        for _ in range(300):
            if any("kept the identity" in line for line in lines):
                break
            threading.Event().wait(0.1)
    finally:
        watcher.terminate()
        watcher.wait(10)
        watcher.stdout.close()
    assert f"  source/a.md:3:1: kept the identity of reworded card '{ORIGINAL}'\n" in lines


# --- 5. files saved in NFD ---------------------------------------------------------------

def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_a_project_saved_in_nfd_keeps_every_identity(tmp_path, anki):
    titled = "# Français\n\n## Été\n\nl'été est chaud\n\n## Œuvre\n\n![tableau](café.png)\n"
    untitled = "## Garçon\n\nboy\n"
    root = make_project(tmp_path, {"français.md": titled, "Ünïcode.md": untitled},
                        media={"media/café.png": PNG_A})
    v1, first, _ = build_project(root, T0)
    anki.import_package(v1)
    source, media = root / "source", root / "media"
    # the same project as a Mac app saves it: text and names in NFD
    for name, text in (("français.md", titled), ("Ünïcode.md", untitled)):
        (source / name).unlink()
        (source / nfd(name)).write_text(nfd(text), encoding="utf-8")
    (media / "café.png").rename(media / nfd("café.png"))
    v2, second, compiled = build_project(root, T0 + 60, output=str(v1))
    assert compiled.diagnostics == ()
    assert (second.new, second.changed, second.unchanged) == (0, 0, 3)
    assert sorted({n.card.deck for n in compiled.notes}) == ["Français", "Ünïcode"]
    log = anki.import_package(v2)
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 0, 0)
    assert sorted(d.name for d in anki.col.decks.all_names_and_ids()) == [
        "Default", "Français", "Ünïcode"]


def test_the_package_is_named_the_same_whatever_the_unicode_form(tmp_path):
    root = make_project(tmp_path, {"a.md": "# Français\n\n## q\n\na\n"})
    project = build.load_project(cwd=root)
    summary, _ = build.build(project, now=T0)
    assert Path(summary.output).name == "francais.apkg"
    (root / "source" / "a.md").write_text(nfd("# Français\n\n## q\n\na\n"))
    again, compiled = build.build(project, now=T0 + 1)
    assert again.output == summary.output and compiled.diagnostics == ()


# --- 6. merges ---------------------------------------------------------------------------

BASE = {"a.md": "# A\n\n## one\n\n1\n\n## two is here\n\n2\n",
        "b.md": "# B\n\n## four\n\n4\n\n## five is here\n\n5\n",
        "c.md": "# C\n\n## three\n\n\n\n\n3\n"}


@pytest.mark.parametrize("attributes", [False, True], ids=["conflict_markers", "union_merge"])
def test_merging_two_branches_keeps_every_identity(tmp_path, anki, attributes):
    root = make_project(tmp_path, BASE)
    git(root, "init", "-q", "-b", "main")
    if attributes:  # what this repository ships: git keeps both sides' lines of the lock
        shutil.copy(Path(__file__).parent.parent / ".gitattributes", root)
    packages = []

    def commit(now, message):
        package, _, compiled = build_project(root, now, output=f"{message}.apkg")
        packages.append(package)
        git(root, "add", "-A", "source", ".")
        git(root, "commit", "-qm", message)
        return compiled

    commit(T0, "base")
    git(root, "checkout", "-q", "-b", "feature")
    a, c = root / "source" / "a.md", root / "source" / "c.md"
    a.write_text("# A\n\n## one\n\n1, edited\n\n## the second card is here\n\n2\n\n"
                 "## six\n\n6\n")
    c.write_text(BASE["c.md"].replace("\n3\n", "\n3, edited on feature\n"))
    feature = guids(root) | {e.front_text: e.guid for e in commit(T0 + 10, "feature").rows}
    git(root, "checkout", "-q", "main")
    b = root / "source" / "b.md"
    b.write_text("# B\n\n## four\n\n4, edited\n\n## the fifth card is here\n\n5\n\n"
                 "## seven\n\n7\n")
    c.write_text(BASE["c.md"].replace("## three", "## the three"))
    main_rows = commit(T0 + 20, "main").rows
    git(root, "merge", "--no-edit", "feature")
    for name in ("a.md", "b.md", "c.md"):  # the Markdown merged cleanly
        assert "<<<<<<<" not in (root / "source" / name).read_text()
    lock_text = (root / "source" / "deck.lock").read_text()
    assert ("<<<<<<<" in lock_text) is not attributes

    merged, _, compiled = build_project(root, T0 + 30, output="merged.apkg")
    reconciled = [d for d in compiled.diagnostics if d.code == "W905"]
    assert len(reconciled) == 1 and "changed on both: kept the newer" in reconciled[0].message
    expected = {e.front_text: e.guid for e in main_rows if not e.removed}
    del expected["two is here"]  # reworded on feature
    expected.update({k: feature[k] for k in ("one", "the second card is here", "six")})
    assert {n.keys.text: n.guid for n in compiled.notes} == expected
    assert json.loads((root / "source" / "deck.lock").read_text())  # clean again
    for package in packages + [merged]:
        anki.import_package(package)
    assert sorted(n.fields[0] for n in anki.notes().values()) == [
        "four", "one", "seven", "six", "the fifth card is here", "the second card is here",
        "the three"]
    assert fields(anki)["the three"] == "<p>3, edited on feature</p>"


def test_the_repository_merges_locks_with_git_union_merge():
    text = (Path(__file__).parent.parent / ".gitattributes").read_text()
    assert re.search(r"^deck\.lock\s+merge=union\s*$", text, re.M)


# --- 7. old, missing and foreign locks ---------------------------------------------------

def test_an_older_lock_stops_the_build_before_identities_are_given_away(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# A\n\n## Capital of France?\n\nParis\n"})
    lock = root / "source" / "deck.lock"
    run(root, "build")
    old = lock.read_text()
    source = root / "source" / "a.md"
    source.write_text(source.read_text() + "\n## What is X?\n\nx\n")
    run(root, "build")
    source.write_text(source.read_text().replace("What is X?", "What exactly is X?"))
    run(root, "build")
    newest = lock.read_text()
    lock.write_text(old)  # restored from a backup, or `git checkout HEAD~2 -- deck.lock`
    code, out, err = run(root, "build")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source/deck.lock:1:1: E904 the lock is older than this machine's last build: 1 card would "
        "lose the identity that build gave it and become new notes in Anki (first: 'What "
        "exactly is X?' at a.md:7:1). Restore the newer lock from git, or pass --restore-lock "
        "to take back what the copy this machine kept in 'build/' knows (or pass "
        "--accept-lock to build with this lock as it is)",
        "1 error; nothing was written"]
    assert lock.read_text() == old
    assert run(root, "build", "--restore-lock")[0] == 0
    assert guids(root) == {e.front_text: e.guid for e in lockfile.parse(newest).notes}


def test_a_missing_lock_stops_the_build_and_can_be_restored(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q1\n\na1\n\n## q2\n\na2\n"})
    run(root, "build")
    before = guids(root)
    (root / "source" / "deck.lock").unlink()
    code, out, err = run(root, "build")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        "source/deck.lock:1:1: E902 the lock is missing, but this machine last built these sources "
        "with a lock of 2 notes; without it every card would become a new note in Anki. "
        "Restore it from git ('git checkout -- deck.lock' in the source folder), or pass "
        "--restore-lock to take back what the copy this machine kept in 'build/' knows (or "
        "pass --reset-lock to give every card a new identity)")
    assert not (root / "source" / "deck.lock").exists()
    code, out, err = run(root, "build", "--restore-lock")
    assert code == 0 and guids(root) == before


def test_another_projects_lock_stops_the_build(tmp_path, run):
    mine = make_project(tmp_path / "mine", {"a.md": "# Mine\n\n## q\n\na\n"})
    theirs = make_project(tmp_path / "theirs", {"b.md": "# Theirs\n\n## p\n\nb\n"})
    run(mine, "build")
    run(theirs, "build")
    shutil.copy(theirs / "source" / "deck.lock", mine / "source" / "deck.lock")
    code, _, err = run(mine, "build")
    assert code == 1 and err.startswith("source/deck.lock:1:1: E903 the lock belongs to another project")
    shutil.rmtree(mine / "build")  # a fresh clone: no memory of this project's lock
    code, _, err = run(mine, "build")
    assert code == 1 and err.splitlines()[0] == (
        "source/deck.lock:1:1: E903 the lock describes 1 card, none in these sources, from files "
        "that are not here ('b.md'): is it another project's lock? Restore this "
        "project's lock from git, or pass --reset-lock to give every card a new identity (or "
        "--accept-lock if this lock is right)")
    assert run(mine, "build", "--accept-lock")[0] == 0


def version_1_lock(text: str) -> str:
    """`text` as the tool wrote locks before they had project values and exact fields."""
    head, _, rows = text.partition("\n")
    head = re.sub(r'"project": "\w+", ', "", head).replace('"version": 2', '"version": 1')
    return head + "\n" + re.sub(r'"field": ', '"search": ', rows)


def test_two_clones_upgrading_an_old_lock_agree_on_its_project(tmp_path, run):
    origin = make_project(tmp_path / "origin", {"a.md": "# A\n\n## q1\n\na1\n"})
    git(origin, "init", "-q", "-b", "main")
    shutil.copy(Path(__file__).parent.parent / ".gitattributes", origin)
    run(origin, "build")
    lock = origin / "source" / "deck.lock"
    lock.write_text(version_1_lock(lock.read_text()))
    git(origin, "add", "source", ".gitattributes")
    git(origin, "commit", "-qm", "a lock of the old format")
    clones = {}
    for name in ("laptop", "desktop"):
        git(tmp_path, "clone", "-q", str(origin), name)
        clones[name] = tmp_path / name
        clone = clones[name]
        (clone / "source" / "a.md").write_text(f"# A\n\n## q1\n\na1\n\n## from {name}\n\nx\n")
        assert run(clone, "build")[0] == 0
        git(clone, "commit", "-qam", f"a card from the {name}")
    projects = {lockfile.read(c / "source" / "deck.lock").project for c in clones.values()}
    assert len(projects) == 1
    laptop, desktop = clones["laptop"], clones["desktop"]
    git(laptop, "push", "-q", "origin", "HEAD:laptop")
    git(desktop, "fetch", "-q", "origin", "laptop")
    git(desktop, "merge", "--no-edit", "FETCH_HEAD")
    (desktop / "source" / "a.md").write_text(
        "# A\n\n## q1\n\na1\n\n## from desktop\n\nx\n\n## from laptop\n\nx\n")
    code, _, err = run(desktop, "build")
    assert code == 0 and "E90" not in err


def test_switching_branches_is_not_mistaken_for_an_older_lock(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q1\n\na1\n"})
    git(root, "init", "-q", "-b", "main")
    run(root, "build")
    git(root, "add", "source")
    git(root, "commit", "-qm", "one card")
    git(root, "checkout", "-q", "-b", "more")
    (root / "source" / "a.md").write_text("# A\n\n## q1, reworded\n\na1\n\n## q2\n\na2\n")
    assert run(root, "build")[0] == 0
    git(root, "commit", "-qam", "two cards")
    git(root, "checkout", "-q", "main")
    code, _, err = run(root, "build")
    assert code == 0 and "E90" not in err


@pytest.mark.parametrize("feature, main_card", [
    ("## What does ATP stand for?\n\nAdenosine triphosphate\n",
     "## What does ATP stand for in biology?\n\nAdenosine triphosphate\n"),
    ("REWORD", "## What is ATP used for?\n\nEnergy\n"),
], ids=["a_similar_card_added_on_each_branch", "a_card_reworded_on_the_other_branch"])
def test_work_on_another_branch_is_not_an_older_lock(tmp_path, run, feature, main_card):
    base = "# Bio\n\n## What is a cell?\n\nA unit\n\n## What is ATP?\n\nEnergy\n"
    root = make_project(tmp_path, {"bio.md": base})
    git(root, "init", "-q", "-b", "main")
    run(root, "build")
    git(root, "add", "source")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-q", "-b", "feature")
    text = base.replace("What is ATP?", "What is ATP used for?") if feature == "REWORD" \
        else base + "\n" + feature
    (root / "source" / "bio.md").write_text(text)
    assert run(root, "build")[0] == 0
    git(root, "commit", "-qam", "feature")
    git(root, "checkout", "-q", "main")
    (root / "source" / "bio.md").write_text(base + "\n" + main_card)
    code, _, err = run(root, "build")
    assert code == 0 and "E90" not in err


# --- 8. a cloze number taken out ---------------------------------------------------------

def test_a_cloze_number_taken_out_leaves_an_empty_card_and_says_so(tmp_path, anki, run):
    root = make_project(tmp_path, {"c.md": "# C\n\n## The {{c1::mitochondrion}} makes "
                                           "{{c2::ATP}} from {{c3::glucose}}\n"})
    v1, _, _ = build_project(root, T0)
    anki.import_package(v1)
    assert anki.review_all() == 3
    (root / "source" / "c.md").write_text("# C\n\n## The {{c1::mitochondrion}} makes "
                                          "{{c2::ATP}} from glucose\n")
    code, out, err = run(root, "build", "-o", "v2.apkg", now=T0 + 5)
    assert code == 0 and err == (
        "source/c.md:3:1: W805 cloze c3 taken out: Anki keeps its card, with its reviews, as an "
        "empty card; after importing, Tools > Empty Cards deletes it ('deck pending' lists "
        "it)\n")
    assert anki.import_package(root / "v2.apkg").updated
    [note] = anki.notes().values()
    assert len(note.cards()) == 3  # Anki kept the card of c3
    [empty] = anki.col.get_empty_cards().notes
    assert [anki.col.get_card(c).ord for c in empty.card_ids] == [2]
    assert anki.col.get_card(empty.card_ids[0]).reps == 1
    code, out, _ = run(root, "pending")
    assert "delete the cards Anki keeps for cloze numbers taken out, in the deck 'C': c3 of" \
        in out
    search = re.search(r"search: (.*)", out).group(1)
    assert list(anki.col.find_notes(search)) == [note.id]


# --- 9. steps that stay until done ------------------------------------------------------

def test_steps_an_import_cannot_do_are_kept_until_marked_done(tmp_path, anki, run):
    root = make_project(tmp_path, {"old.md": "# Old deck\n\n## a\n\n1\n\n## b\n\n2\n\n## c\n\n3\n",
                                   "x.md": "# X\n\n## gone\n\nbye\n\n## stays\n\nhere\n"})
    run(root, "build", "-o", "v1.apkg")
    anki.import_package(root / "v1.apkg")
    (root / "source" / "old.md").write_text("# New deck\n\n## a\n\n1\n\n## b\n\n2\n\n## c\n\n3\n")
    (root / "source" / "x.md").write_text("# X\n\n## stays\n\nhere\n")
    code, out, err = run(root, "build", "-o", "v2.apkg", now=T0 + 5)
    assert err.splitlines() == [
        "source/old.md:3:1: W802 deck changed from 'Old deck' to 'New deck' (3 cards of this file); "
        "an import does not move existing cards: 'deck pending' shows how to move them in Anki",
        "source/x.md:1:1: W803 card 'gone' was removed from the sources; an import does not delete "
        "notes: 'deck pending' shows how to delete it in Anki"]
    pending_line = ("2 steps to do in Anki that an import cannot (1 deletion, 1 deck move): "
                    "'deck pending' shows them")
    assert out.splitlines()[1:] == [pending_line]
    anki.import_package(root / "v2.apkg")
    code, out, err = run(root, "build", "-o", "v2.apkg", now=T0 + 6)  # nothing new, still to do
    assert err == "" and out.splitlines()[1:] == [pending_line]

    code, out, _ = run(root, "pending")
    lines = out.splitlines()
    delete_id, move_id = re.findall(r"^\[(\w{5})\] ", out, re.M)
    assert lines[0] == "2 steps to do in Anki, after importing the latest build:"
    assert lines[1] == (f"[{delete_id}] delete 1 note removed from the sources, in the deck "
                        "'X': 'gone'")
    assert lines[4] == (f"[{move_id}] move the cards of 3 notes from the deck 'Old deck' to "
                        "'New deck': 'a', 'b', 'c'")
    assert lines[5] == "   in Anki's browser, search, select all, then Cards > Change Deck"
    assert lines[7] == (f"when done: deck pending --done {delete_id},{move_id} (or the ids of "
                        "those done)")
    delete, move = lines[3].split("search: ")[1], lines[6].split("search: ")[1]
    notes = {n.fields[0]: n.id for n in anki.notes().values()}
    assert list(anki.col.find_notes(delete)) == [notes["gone"]]
    assert sorted(anki.col.find_notes(move)) == sorted(notes[k] for k in "abc")

    assert run(root, "pending", "--done", move_id)[1] == (
        f"done: {lines[4][8:]}\nmarked 1 step done; 1 left\n")
    assert run(root, "pending")[1].splitlines()[1] == lines[1]
    # a build that changes a step changes its id: an id listed before marks nothing
    (root / "source" / "x.md").write_text("# X\n")
    run(root, "build", "-o", "v3.apkg", now=T0 + 7)
    code, _, err = run(root, "pending", "--done", delete_id)
    assert code == 2 and f"no step '{delete_id}' to do" in err
    code, out, _ = run(root, "pending", "--done", "all")
    assert out.splitlines() == ["done: delete 2 notes removed from the sources, in the deck "
                                "'X': 'gone', 'stays'", "marked 1 step done; 0 left"]
    assert run(root, "pending")[1] == ("nothing to do in Anki: it has every change an import "
                                       "can make\n")
    code, out, _ = run(root, "build", "-o", "v3.apkg", now=T0 + 8)
    assert len(out.splitlines()) == 1
    (root / "source" / "deck.lock").unlink()
    assert run(root, "pending", "--done", "all")[1] == "marked 0 steps done; 0 left\n"


# --- 10. an image replaced with the same size and time -----------------------------------

def packed_media(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as z:
        names = json.loads(z.read("media"))
        return {name: z.read(number) for number, name in names.items()}


def test_an_image_replaced_with_the_same_size_and_time_reaches_the_package(tmp_path):
    import hashlib

    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\n![x](pic.png)\n\n## p\n\nplain\n"},
                        media={"media/pic.png": PNG_A})
    package, _, _ = build_project(root, T0)
    assert list(packed_media(package).values()) == [PNG_A]
    picture = root / "media" / "pic.png"
    stat = picture.stat()
    assert len(PNG_B) == stat.st_size
    replacement = root / "new.png"  # as `cp -p` or `rsync -a` would put it in place
    replacement.write_bytes(PNG_B)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, picture)
    assert (picture.stat().st_size, picture.stat().st_mtime_ns) == (stat.st_size,
                                                                    stat.st_mtime_ns)
    package, summary, compiled = build_project(root, T0 + 1)
    assert summary.changed == 1
    [(name, data)] = packed_media(package).items()
    assert data == PNG_B and hashlib.sha256(PNG_B).hexdigest()[:8] in name
    assert name in compiled.notes[0].rendered.fields[1]


def test_bytes_that_changed_since_they_were_hashed_are_never_packed(tmp_path, monkeypatch, run):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\n![x](pic.png)\n",
                                   "b.md": "# A\n\n## p\n\nplain\n"},
                        media={"media/pic.png": PNG_A})
    run(root, "build")
    package = root / "build" / "a.apkg"
    before = package.read_bytes()
    # a change no signature of a file sees: the cache serves the old name for the new bytes
    blind = lambda path: "the same"  # noqa: E731
    monkeypatch.setattr("generator.cache.signature", blind)
    monkeypatch.setattr("generator.media.signature", blind)
    run(root, "build")
    (root / "media" / "pic.png").write_bytes(PNG_B)
    (root / "source" / "b.md").write_text("# A\n\n## p\n\nedited\n")
    code, out, err = run(root, "build", now=T0 + 5)
    assert code == 2 and err == ("deck: error: 'media/pic.png' changed while the package was "
                                 "being written; nothing was written, run 'deck build' again\n")
    assert package.read_bytes() == before
    code, _, _ = run(root, "build", now=T0 + 6)
    assert code == 0 and list(packed_media(package).values()) == [PNG_B]


# --- 11. the package follows this tool's own code ----------------------------------------

def test_a_change_to_the_package_writing_code_rewrites_the_package(tmp_path, monkeypatch):
    from generator import package as package_module

    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\na\n"})
    build_project(root, T0)
    written = []
    real = package_module.write
    monkeypatch.setattr(package_module, "write", lambda *a, **k: written.append(1) or real(*a, **k))
    build_project(root, T0)
    assert written == []  # unchanged sources, unchanged code: the package is left as it is
    monkeypatch.setattr("generator.cache.code_version", lambda: "an upgraded tool")
    build_project(root, T0)
    assert written == [1]
