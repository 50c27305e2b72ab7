"""`deck adopt` with the real backend: notes a user made in Anki, reviewed, taken over by the
Markdown. The first build after adopting changes nothing in Anki; an edit in Markdown
updates the note in place, history kept, with no one-way sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.cli import main
from tests.conftest import PNG, Anki, make_project

pytestmark = pytest.mark.anki

NOW = 1_800_000_000


@pytest.fixture
def run(monkeypatch, capsys):
    clock = [NOW]

    def run(root: Path, *args: str) -> tuple[int, str, str]:
        clock[0] += 10
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(clock[0]))
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def add(col, notetype: str, deck: str, *fields: str, tags: str = "") -> int:
    model = col.models.by_name(notetype)
    note = col.new_note(model)
    for i, value in enumerate(fields):
        note.fields[i] = value
    if tags:
        note.tags = tags.split()
    col.add_note(note, col.decks.id(deck, create=True))
    return note.id


def user_collection(path: Path) -> Anki:
    """What a user made by hand: stock note types, HTML fields, an image, all reviewed;
    and one note of a note type that cannot be adopted."""
    anki = Anki(path)
    col = anki.col
    media = Path(col.media.dir())
    (media / "cell.png").write_bytes(PNG)
    add(col, "Basic", "Bio", "What does the <b>nucleus</b> hold?",
        "The DNA:<br><ul><li>chromosomes</li><li>genes</li></ul>", tags="bio cells")
    add(col, "Basic", "Bio::Cells", "Cell picture", '<img src="cell.png">')
    add(col, "Basic", "Bio", r"Area of a circle \(r\)", r"\[\pi r^2\]")
    add(col, "Basic (and reversed card)", "Bio", "mitochondrion", "powerhouse of the cell")
    add(col, "Cloze", "Bio", r"The {{c1::ribosome}} makes {{c2::proteins}} (\(n\) of them)",
        "back extra")
    add(col, "Basic", "Code", "Print in Python",
        '<pre><code class="language-python">print("a &lt; b")</code></pre>')
    odd = col.models.copy(col.models.by_name("Basic (and reversed card)"))
    odd["name"] = "Three Cards"
    third = col.models.new_template("Card 3")
    third["qfmt"], third["afmt"] = "{{Back}}?", "{{Front}}"
    col.models.add_template(odd, third)
    col.models.update_dict(odd)
    add(col, "Three Cards", "Bio", "not adoptable", "three templates")
    assert anki.review_all() > 0
    return anki


def state(col) -> tuple:
    return (col.db.all("select id, nid, did, ord, type, queue, due, ivl, reps from cards "
                       "order by id"),
            col.db.all("select * from revlog order by id"),
            col.db.scalar("select scm from col"),
            sorted(m["name"] for m in col.models.all()))


def test_adopt_then_build_changes_nothing_and_an_edit_updates_in_place(tmp_path, run):
    anki = user_collection(tmp_path / "user.anki2")
    notes_before = len(anki.col.find_notes(""))
    anki.close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))
    assert code == 0, (out, err)
    assert out.startswith("adopted 6 notes into ")
    assert "not adoptable" not in out and "1 note not adopted:" in out
    assert (root / "media" / "cell.png").read_bytes() == PNG
    code, out, err = run(root, "build", "-o", "out.apkg")
    assert code == 0, (out, err)
    anki = Anki(tmp_path / "user.anki2")
    before = state(anki.col)
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 0, 0), log
    assert state(anki.col) == before and len(anki.col.find_notes("")) == notes_before
    anki.close()
    # the user's fix, in Markdown
    [path] = [p for p in (root / "source").rglob("*.md") if "nucleus" in p.read_text()]
    text = path.read_text()
    path.write_text(text.replace("genes", "genes and **RNA** templates"))
    code, out, err = run(root, "build", "-o", "out.apkg")
    assert code == 0 and "1 changed" in out, (out, err)
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 1, 0), log
    after = state(anki.col)
    assert after == before, "card ids, review state, revlog, schema or note types moved"
    [nid] = anki.col.find_notes("nucleus")
    assert "<strong>RNA</strong>" in anki.col.get_note(nid)["Back"]
    anki.close()


def test_adopting_twice_adopts_nothing_new(tmp_path, run):
    user_collection(tmp_path / "user.anki2").close()
    root = make_project(tmp_path, {})
    assert run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))[0] == 0
    files = sorted((root / "source").rglob("*.md"))
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))
    assert code == 0 and out.startswith("adopted 0 notes"), (out, err)
    assert sorted((root / "source").rglob("*.md")) == files


def test_dry_run_writes_nothing(tmp_path, run):
    user_collection(tmp_path / "user.anki2").close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"),
                         "--dry-run")
    assert code == 0 and out.startswith("would adopt 6 notes"), (out, err)
    assert list((root / "source").iterdir()) == [] and list((root / "media").iterdir()) == []


SEED = Path(__file__).resolve().parent.parent / "source"


def seed_cards() -> list[tuple[str, str]]:
    """The user's first deck as they had made it in Anki by hand: question, answer lines
    (from this project's own Markdown of it), `28*28` eaten as `2828`."""
    from generator.parse import parse_file

    cards = []
    for path in sorted(SEED.glob("*.md")):
        parsed, _ = parse_file(path.name, path.read_text(encoding="utf-8"))
        for card in parsed:
            back = re.sub(r"```[a-z]*\n?", "", card.back).replace("28\\*28", "2828")
            back = back.replace("28*28", "2828")
            cards.append((card.front.split("\n")[0],
                          "<br>".join(line for line in back.splitlines() if line.strip())))
    return cards


def test_the_seed_deck_made_by_hand_is_adopted_and_fixed_without_duplicates(tmp_path, run):
    cards = seed_cards()
    assert len(cards) >= 20 and any("2828" in back for _, back in cards)
    anki = Anki(tmp_path / "user.anki2")
    for front, back in cards:
        add(anki.col, "Basic", "March 2025 Flashcards", front, back)
    anki.review_all()
    anki.close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))
    assert code == 0 and out.startswith(f"adopted {len(cards)} notes"), (out, err)
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    before = state(anki.col)
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 0, 0), log
    anki.close()
    fixed = 0
    for path in (root / "source").rglob("*.md"):
        text = path.read_text()
        fixed += text.count("2828")
        path.write_text(text.replace("2828", "28\\*28"))
    assert fixed >= 1
    code, out, err = run(root, "build", "-o", "out.apkg")
    assert code == 0, (out, err)
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert len(log.new) == 0 and len(log.conflicting) == 0 and len(log.updated) >= 1, log
    assert state(anki.col) == before
    assert len(anki.col.find_notes("")) == len(cards)
    assert anki.col.find_notes("28*28") and not anki.col.find_notes("2828")
    anki.close()


def test_adopt_from_an_exported_package(tmp_path, run):
    from anki.collection import ExportAnkiPackageOptions

    anki = user_collection(tmp_path / "user.anki2")
    package = tmp_path / "mine.apkg"
    anki.col.export_anki_package(out_path=str(package), limit=None,
                                 options=ExportAnkiPackageOptions(
                                     with_scheduling=True, with_deck_configs=True,
                                     with_media=True, legacy=False))
    before = state(anki.col)
    anki.close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", str(package))
    assert code == 0 and out.startswith("adopted 6 notes"), (out, err)
    assert (root / "media" / "cell.png").read_bytes() == PNG
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 0, 0), log
    assert state(anki.col) == before
    anki.close()


def test_adopted_notes_push_and_sync_to_the_phone_without_a_full_sync(
        tmp_path, run, monkeypatch, sync_server):
    from tests.test_sync import PASSWORD, USER, full_sync, normal_sync

    desktop = user_collection(tmp_path / "desktop.anki2")
    auth = desktop.col.sync_login(USER, PASSWORD, sync_server)
    reply = desktop.col.sync_collection(auth=auth, sync_media=True)
    full_sync(desktop.col, auth, reply.server_media_usn, upload=True)
    desktop.close()
    phone = Anki(tmp_path / "phone.anki2")
    p_auth = phone.col.sync_login(USER, PASSWORD, sync_server)
    reply = phone.col.sync_collection(auth=p_auth, sync_media=True)
    full_sync(phone.col, p_auth, reply.server_media_usn, upload=False)
    phone_before = state(phone.col)
    root = make_project(tmp_path, {})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("ANKI_SYNC_USERNAME", USER)
    monkeypatch.setenv("ANKI_SYNC_PASSWORD", PASSWORD)
    assert run(root, "login", "--endpoint", sync_server)[0] == 0
    assert run(root, "adopt", "--collection", str(tmp_path / "desktop.anki2"))[0] == 0
    code, out, err = run(root, "push", "--collection", str(tmp_path / "desktop.anki2"))
    assert code == 0 and "nothing to do" in out, (out, err)  # adopting changed nothing
    [path] = [p for p in (root / "source").rglob("*.md") if "nucleus" in p.read_text()]
    path.write_text(path.read_text().replace("genes", "genes and RNA"))
    code, out, err = run(root, "push", "--collection", str(tmp_path / "desktop.anki2"))
    assert code == 0 and ": 0 new, 1 updated, 5 unchanged, 0 deleted, 0 moved; normal sync" \
        in out, (out, err)
    normal_sync(phone.col, p_auth, "phone")
    [nid] = phone.col.find_notes("nucleus")
    assert "genes and RNA" in phone.col.get_note(nid)["Back"]
    after = state(phone.col)
    assert after[0] == phone_before[0] and after[1] == phone_before[1]  # cards, revlog
    assert after[2:] == phone_before[2:]  # no schema change, no note type added
    phone.close()


def test_convert_moves_notes_to_our_note_types_keeping_every_review(tmp_path, run):
    anki = user_collection(tmp_path / "user.anki2")
    before = state(anki.col)
    anki.close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"),
                         "--convert")
    assert code == 0, (out, err)
    assert "moved 6 notes to this tool's note types in the collection (reviews kept): this " \
        "needs a one-way sync" in out
    anki = Anki(tmp_path / "user.anki2")
    converted = state(anki.col)
    assert converted[0] == before[0] and converted[1] == before[1]  # cards and revlog
    assert converted[2] != before[2]  # the schema changed: the one-way sync it said
    names = {anki.col.models.get(anki.col.get_note(n).mid)["name"]
             for n in anki.col.find_notes("-\"note:Three Cards\"")}
    assert names == {"Markdown Basic", "Markdown Reversed", "Markdown Cloze"}
    anki.close()
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 6, 0), log
    after = state(anki.col)
    assert after[:3] == converted[:3]  # the import changed no card, review or schema
    [nid] = anki.col.find_notes("nucleus")
    assert "<strong>nucleus</strong>" in anki.col.get_note(nid)["Front"]  # our rendering
    assert anki.col.get_note(nid)["Source"]
    anki.close()


def test_push_refuses_when_an_adopted_note_type_changed_in_anki(tmp_path, run):
    user_collection(tmp_path / "user.anki2").close()
    root = make_project(tmp_path, {})
    assert run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    model = anki.col.models.by_name("Basic")
    anki.col.models.add_field(model, anki.col.models.new_field("Source"))
    anki.col.models.update_dict(model)
    before = state(anki.col)
    anki.close()
    [path] = [p for p in (root / "source").rglob("*.md") if "nucleus" in p.read_text()]
    path.write_text(path.read_text().replace("genes", "genes and RNA"))
    code, out, err = run(root, "push", "--collection", str(tmp_path / "user.anki2"))
    assert code == 2 and not out, (out, err)
    assert "your note type 'Basic', whose notes this project adopted, changed its fields or " \
        "templates in Anki since" in err and "nothing was changed" in err
    anki = Anki(tmp_path / "user.anki2")
    assert state(anki.col) == before
    assert not any("Basic+" in m["name"] for m in anki.col.models.all())
    anki.close()


def test_a_later_convert_moves_only_its_own_notes(tmp_path, run):
    """Found in review: converting one deck rewrote every adopted row in the lock, so the
    notes adopted earlier became conflicting for good."""
    user_collection(tmp_path / "user.anki2").close()
    root = make_project(tmp_path, {})
    col = str(tmp_path / "user.anki2")
    assert run(root, "adopt", "--collection", col, "--deck", "Code")[0] == 0
    code, out, err = run(root, "adopt", "--collection", col, "--deck", "Bio", "--convert")
    assert code == 0 and "moved 5 notes to this tool's note types" in out, (out, err)
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 5, 0), log
    [code_note] = anki.col.find_notes("Print")
    assert anki.col.models.get(anki.col.get_note(code_note).mid)["name"] == "Basic"
    anki.close()


def test_convert_needs_a_collection_and_missing_media_stops_before_writing(tmp_path, run):
    anki = user_collection(tmp_path / "user.anki2")
    (Path(anki.col.media.dir()) / "cell.png").unlink()
    anki.close()
    root = make_project(tmp_path, {})
    code, out, err = run(root, "adopt", str(tmp_path / "x.apkg"), "--convert")
    assert code == 2 and "adopt from the collection" in err
    code, out, err = run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))
    assert code == 2 and "has no 'cell.png'" in err and "nothing was written" in err
    assert not any((root / "source").iterdir()) and not any((root / "media").iterdir())


def test_the_users_own_note_type_is_never_replaced_by_an_import(tmp_path, run):
    """Styling changed in Anki after adopting stays, through an edit in Markdown (the
    adopted copy of the note type is never newer than the collection's)."""
    user_collection(tmp_path / "user.anki2").close()
    root = make_project(tmp_path, {})
    assert run(root, "adopt", "--collection", str(tmp_path / "user.anki2"))[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    model = anki.col.models.by_name("Basic")
    model["css"] += "\n.card { color: teal; }\n"
    anki.col.models.update_dict(model)
    anki.close()
    [path] = [p for p in (root / "source").rglob("*.md") if "nucleus" in p.read_text()]
    path.write_text(path.read_text().replace("genes", "genes and RNA"))
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    anki = Anki(tmp_path / "user.anki2")
    log = anki.import_package(root / "out.apkg")
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 1, 0), log
    anki.col.models._clear_cache()
    assert "color: teal" in anki.col.models.by_name("Basic")["css"]
    anki.close()
