"""`deck push`, `deck login`, `deck logout` against the real backend and Anki's own sync server.

A "desktop" collection (the one `deck push --collection` writes into) and a "phone" collection
share one account on a local `python -m anki.syncserver`. Both made their first one-way sync
in setup, as every new profile must; the first push then brings the project's cards with a
normal sync and the phone downloads them. The tests then edit the Markdown, push, and look at
what the phone receives; or make the push refuse, and check that nothing moved.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from generator.cli import main
from tests.conftest import ROOT, Anki, make_project
from tests.test_sync import (PASSWORD, USER, full_sync, normal_sync, reply_name,
                             tiny_png, wait_for_media_sync)

pytestmark = pytest.mark.anki

NOW = 1_800_000_000
ML = ("# ML\n\n"
      "## activation function\n\na nonlinear layer\n\n"
      "## Consequence of using a learning rate that is too low?\n\n"
      "It takes too many epochs to converge.\n\n"
      "## F.relu\n\nReLU replaces every negative number with a zero\n\n"
      "## What is a tensor?\n\nAn n-dimensional array of numbers.\n")
STATS = ("# Stats\n\n"
         "## What is the variance of a sample?\n\nThe mean squared deviation from the mean.\n\n"
         "## What is the median of a sample?\n\nThe middle value once sorted.\n")
SOURCES = {"ml.md": ML, "stats.md": STATS}
CARDS = 6  # basic notes, one card each
NEW_CARD = "## What does ReLU look like?\n\n![x](pic.png)\n"
HOLDER = ("import sys\n"
          "from anki.collection import Collection\n"
          "col = Collection(sys.argv[1])\n"
          "print('open', flush=True)\n"
          "sys.stdin.read()\n"
          "col.close()\n")


def _required_names():
    from anki.sync_pb2 import SyncCollectionResponse as Reply

    return Reply, {Reply.FULL_SYNC, Reply.FULL_UPLOAD, Reply.FULL_DOWNLOAD}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def state(col) -> dict:
    """Everything a push could move: the collection's counters, every note and card row,
    the review log, the decks and note types."""
    return {
        "col": tuple(col.db.first("select mod, scm, usn from col")),
        "notes": col.db.all("select * from notes order by id"),
        "cards": col.db.all("select * from cards order by id"),
        "revlog": col.db.all("select * from revlog order by id"),
        "graves": col.db.all("select * from graves"),
        "decks": sorted((d.id, d.name) for d in col.decks.all_names_and_ids()),
        "notetypes": col.db.all("select id, name, mtime_secs, usn from notetypes order by id"),
    }


def fronts_of(col) -> dict[str, int]:
    """First field -> note id."""
    return {col.get_note(nid).fields[0]: nid for nid in col.find_notes("")}


def deck_of(col, cid: int) -> str:
    card = col.get_card(cid)
    return col.decks.name(card.odid or card.did)


class World:
    """One project, one account on the sync server, a desktop collection on disk (closed
    between pushes: the backend locks it) and a phone collection held open."""

    def __init__(self, tmp_path: Path, monkeypatch, capsys, server: str, factory):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.server = server
        self.factory = factory
        self.epoch = NOW
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        monkeypatch.setenv("DECK_DEBUG", "1")  # a bug of ours raises instead of exit 2
        monkeypatch.setenv("ANKI_SYNC_USERNAME", USER)
        monkeypatch.setenv("ANKI_SYNC_PASSWORD", PASSWORD)
        monkeypatch.delenv("ANKI_SYNC_ENDPOINT", raising=False)
        monkeypatch.delenv("ANKI_BASE", raising=False)
        self.root = make_project(tmp_path, SOURCES)
        self.ml = self.root / "source" / "ml.md"
        self.stats = self.root / "source" / "stats.md"
        self.desktop_path = tmp_path / "desktop.anki2"
        self.phone: Anki | None = None
        self.p_auth = None

    # --- the command, as a user runs it ---------------------------------------------
    def deck(self, *args: str, later: bool = True) -> tuple[int, str, str]:
        """`deck ARGS` in the project folder; each call a little later than the last, as
        edits are ("update if newer" compares note times)."""
        if later:
            self.epoch += 10
        self.monkeypatch.chdir(self.root)
        self.monkeypatch.setenv("SOURCE_DATE_EPOCH", str(self.epoch))
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def push(self, *args: str, later: bool = True) -> tuple[int, str, str]:
        return self.deck("push", "--collection", str(self.desktop_path), *args, later=later)

    # --- the two devices --------------------------------------------------------------
    @contextmanager
    def desktop(self):
        col = Anki(self.desktop_path)
        try:
            yield col
        finally:
            col.close()

    def desktop_state(self) -> dict:
        with self.desktop() as d:
            return state(d.col)

    def first_sync(self, who: Anki, upload: bool):
        """The first sync of a new profile: one-way (an empty collection facing an empty
        server is told "no changes", but still needs its one-way sync: forced here as
        Anki's "upload to AnkiWeb" button does)."""
        Reply, full = _required_names()
        auth = who.col.sync_login(USER, PASSWORD, self.server)
        out = who.col.sync_collection(auth=auth, sync_media=True)
        wait_for_media_sync(who.col)
        assert out.required in full | {Reply.NO_CHANGES}, reply_name(out.required)
        full_sync(who.col, auth, out.server_media_usn, upload=upload)
        assert not who.col.schema_changed(), "still needs a one-way sync after one"
        return auth

    def phone_sync_brings_nothing(self) -> None:
        Reply, _ = _required_names()
        before = state(self.phone.col)
        out = self.phone.col.sync_collection(auth=self.p_auth, sync_media=True)
        wait_for_media_sync(self.phone.col)
        assert out.required == Reply.NO_CHANGES, (
            f"phone: expected nothing to sync, got {reply_name(out.required)}")
        assert state(self.phone.col) == before, (
            "phone: a sync that should bring nothing changed the collection")

    def setup(self, phone: bool = True) -> "World":
        desktop = self.factory("desktop")
        self.first_sync(desktop, upload=True)
        desktop.close()
        code, out, err = self.deck("login", "--endpoint", self.server)
        assert code == 0, f"deck login failed: {err}"
        code, out, err = self.push()
        assert code == 0, f"first push failed ({code}): {err}"
        assert "6 new, 0 updated, 0 unchanged, 0 deleted, 0 moved; normal sync" in out, out
        if phone:
            self.phone = self.factory("phone")
            self.p_auth = self.first_sync(self.phone, upload=False)
            assert len(self.phone.col.find_cards("")) == CARDS, "phone: first download"
        return self


@pytest.fixture
def world(tmp_path, monkeypatch, capsys, sync_server, anki_factory) -> World:
    return World(tmp_path, monkeypatch, capsys, sync_server, anki_factory)


def add_image_card(w: World) -> bytes:
    png = tiny_png()
    (w.root / "media" / "pic.png").write_bytes(png)
    with open(w.ml, "a", encoding="utf-8") as f:
        f.write("\n" + NEW_CARD)
    return png


def move_stats(w: World) -> Path:
    target = w.root / "source" / "math" / "stats.md"
    target.parent.mkdir()
    w.stats.rename(target)
    return target


# --- 1. the round trip ---------------------------------------------------------------------

def test_round_trip_edits_reach_the_phone_with_its_reviews_kept(world):
    w = world.setup()
    phone = w.phone
    assert phone.review_all() == CARDS
    normal_sync(phone.col, w.p_auth, "phone: sync after studying")
    studied = phone.card_states()
    revlog = phone.col.db.all("select * from revlog order by id")
    assert len(revlog) == CARDS
    before_ids = fronts_of(phone.col)

    edit(w.ml, "a nonlinear layer\n", "a nonlinear layer, such as ReLU or sigmoid\n")
    edit(w.ml, "learning rate that is too low?", "learning rate that is far too low?")
    edit(w.ml, "## F.relu\n\nReLU replaces every negative number with a zero\n\n", "")
    move_stats(w)
    png = add_image_card(w)

    code, out, err = w.push()
    assert code == 0, err
    first = out.splitlines()[0]
    # a moved file's notes count as updated too, as `deck build` counts them changed (a
    # note's deck is part of what the lock compares)
    assert first == (f"pushed to '{w.desktop_path}': 1 new, 4 updated, 1 unchanged, 1 deleted, "
                     "2 moved; normal sync, 1 media file uploaded"), out
    assert re.search(r"^backup: .*\.colpkg \(to undo", out, re.M), out
    assert "W802" not in err and "W803" not in err, f"push did them; no step is left: {err}"
    code, out, _ = w.deck("pending", later=False)
    assert (code, out) == (0, "nothing to do in Anki: it has every change an import can "
                              "make\n")

    # the desktop: no one-way sync is due, and the server has everything it has
    Reply, _ = _required_names()
    with w.desktop() as d:
        assert not d.col.schema_changed(), "the push left the desktop needing a one-way sync"
        out = d.col.sync_collection(auth=d.col.sync_login(USER, PASSWORD, w.server),
                                    sync_media=False)
        assert out.required == Reply.NO_CHANGES, (
            f"desktop after the push: {reply_name(out.required)}, expected nothing left")

    # the phone: one normal sync brings it all
    normal_sync(phone.col, w.p_auth, "phone: sync after the push")
    after = fronts_of(phone.col)
    notes = {phone.col.get_note(n).guid: phone.col.get_note(n) for n in after.values()}
    assert "F.relu" not in after, "phone: the removed note is still there"
    activation = phone.col.get_note(after["activation function"])
    assert activation.fields[1].startswith("<p>a nonlinear layer, such as ReLU or sigmoid"), (
        f"phone: the edited answer did not arrive: {activation.fields[1]!r}")
    reworded = [f for f in after if "far too low" in f]
    assert len(reworded) == 1, f"phone: the reworded question is missing: {sorted(after)}"
    old = next(f for f in before_ids if "too low" in f)
    assert after[reworded[0]] == before_ids[old], (
        "phone: the reworded question is a new note, not the same one")
    [new_front] = set(after) - set(before_ids) - set(reworded)
    assert "ReLU look like" in new_front
    new = phone.col.get_note(after[new_front])
    [src] = re.findall(r'<img src="([^"]+)"', new.fields[1]) or [None]
    assert src, f"phone: the new card has no image: {new.fields[1]!r}"
    image = Path(phone.col.media.dir()) / src
    assert image.is_file() and image.read_bytes() == png, (
        f"phone: the image {src} did not arrive: {sorted(os.listdir(phone.col.media.dir()))}")
    [new_card] = phone.col.find_cards(f"nid:{new.id}")
    assert phone.col.get_card(new_card).type == 0, "phone: the new card should be unstudied"

    stats_cards = [c for f, n in after.items() if "of a sample" in f
                   for c in phone.col.find_cards(f"nid:{n}")]
    assert len(stats_cards) == 2
    assert {deck_of(phone.col, c) for c in stats_cards} == {"math::Stats"}, (
        "phone: the moved file's cards are not in its new deck")
    assert len(notes) == CARDS

    now = phone.card_states()
    removed = {cid for cid, s in studied.items() if s[0] == before_ids["F.relu"]}
    changed = {cid: (studied[cid], now.get(cid)) for cid in studied
               if cid not in removed and now.get(cid) != studied[cid]}
    assert not changed, ("phone: review state changed, card id: ((nid, ord, type, queue, due, "
                         f"ivl, reps) before, after): {changed}")
    assert phone.col.db.all("select * from revlog order by id") == revlog, (
        "phone: the review log changed")
    w.phone_sync_brings_nothing()


# --- 2. a review synced before the push survives the move ------------------------------------

def answer(phone: Anki, cid: int) -> None:
    """One 'good' answer to this card, whatever its queue, as the phone's scheduler does."""
    from anki.scheduler.v3 import CardAnswer

    card = phone.col.get_card(cid)
    card.start_timer()
    states = phone.col._backend.get_scheduling_states(cid)
    phone.col.sched.answer_card(phone.col.sched.build_answer(
        card=card, states=states, rating=CardAnswer.GOOD))


def test_a_phone_review_synced_before_the_push_is_not_undone_by_the_move(world):
    w = world.setup()
    phone = w.phone
    variance = fronts_of(phone.col)["What is the variance of a sample?"]
    [cid] = phone.col.find_cards(f"nid:{variance}")
    answer(phone, cid)
    normal_sync(phone.col, w.p_auth, "phone: sync after one review")
    reviewed = phone.card_states()[cid]
    assert reviewed[2:] != (0, 0), "the review did not take the card out of 'new'"
    assert reviewed[-1] == 1
    revlog = phone.col.db.all("select * from revlog where cid = ?", cid)
    assert len(revlog) == 1

    move_stats(w)  # the desktop never synced since its first push: only the push's pull
    code, out, err = w.push()
    assert code == 0, err
    assert ": 0 new, 2 updated, 4 unchanged, 0 deleted, 2 moved; normal sync" in out, out
    normal_sync(phone.col, w.p_auth, "phone: sync after the push")
    assert deck_of(phone.col, cid) == "math::Stats", "phone: the card was not moved"
    assert phone.card_states()[cid] == reviewed, (
        "phone: the move undid the review (nid, ord, type, queue, due, ivl, reps): "
        f"{reviewed} before, {phone.card_states()[cid]} after")
    assert phone.col.db.all("select * from revlog where cid = ?", cid) == revlog
    with w.desktop() as d:
        assert d.card_states()[cid] == reviewed, "desktop: the review was not kept"


# --- 3. refusals: exit 2, a clear message, nothing changed ---------------------------------

def add_field(col, notetype: str, name: str = "Extra") -> None:
    """What Fields... > Add does in Anki: a schema change (the next sync is one-way)."""
    model = col.models.by_name(notetype)
    assert model is not None, f"no note type {notetype!r}"
    col.models.add_field(model, col.models.new_field(name))
    col.models.update_dict(model)


def refused(w: World, *args: str, says: str) -> str:
    """`deck push ARGS` (with an edit pending, so that there is something to do) exits 2
    saying `says` and that nothing was changed, and leaves the desktop collection as it
    was: counters (mod, scm, usn), notes, cards, review log, decks, note types."""
    edit(w.ml, "An n-dimensional array of numbers.", "An n-dimensional array.")
    before = w.desktop_state()
    code, out, err = w.push(*args)
    assert code == 2, f"expected a refusal (exit 2), got {code}: {out}{err}"
    assert says in err and "nothing was changed" in err, (
        f"unclear refusal, expected {says!r}: {err}")
    assert "internal error" not in err and not out, (out, err)
    assert w.desktop_state() == before, "the refused push changed the collection"
    return err


def test_refuses_while_another_process_has_the_collection_open(world):
    w = world.setup(phone=False)
    backups = sorted((w.tmp / "backups").iterdir())
    edit(w.ml, "An n-dimensional array of numbers.", "An n-dimensional array.")
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(w.desktop_path)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline() == "open\n", "the holder could not open the collection"
        files = sorted(w.tmp.glob("desktop.anki2*"))
        held = {p: p.read_bytes() for p in files}
        code, out, err = w.push()
        assert code == 2 and not out, (code, out, err)
        assert err == ("deck: error: Anki has this collection open: close Anki (or switch to "
                       "another profile in it) and run the command again; nothing was changed\n")
        assert sorted(w.tmp.glob("desktop.anki2*")) == files
        assert {p: p.read_bytes() for p in files} == held, "a refused open changed bytes"
        assert sorted((w.tmp / "backups").iterdir()) == backups, "a backup was made"
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    # once Anki is closed, the same push goes through
    code, out, err = w.push()
    assert code == 0 and ": 0 new, 1 updated, 5 unchanged" in out, (out, err)


def test_refuses_a_missing_collection_and_creates_none(world):
    w = world
    profile = w.tmp / "empty-profile"
    profile.mkdir()
    for missing in (w.tmp / "nowhere" / "collection.anki2", profile):
        code, out, err = w.deck("push", "--collection", str(missing))
        assert code == 2 and not out, (code, out, err)
        assert "no collection at" in err and "would create an empty one" in err, err
        assert "nothing" not in out
    assert not (w.tmp / "nowhere").exists(), "a collection was created"
    assert not any(profile.iterdir()), "a collection was created in the profile folder"
    assert not (w.tmp / "backups").exists()


def test_refuses_when_the_server_wants_a_one_way_sync(world):
    w = world.setup()
    add_field(w.phone.col, "Basic")  # the phone changed a note type, and uploaded
    Reply, full = _required_names()
    out = w.phone.col.sync_collection(auth=w.p_auth, sync_media=True)
    assert out.required in full, reply_name(out.required)
    full_sync(w.phone.col, w.p_auth, out.server_media_usn, upload=True)
    refused(w, says="the sync server asks for a one-way sync")


def test_refuses_when_the_collection_already_needs_a_one_way_sync(world):
    w = world.setup(phone=False)
    with w.desktop() as d:
        add_field(d.col, "Basic")
        assert d.col.schema_changed()
    err = refused(w, says="this collection already needs a one-way sync")
    assert "sync it in Anki first" in err


def test_refuses_bad_credentials_and_a_failed_login_stores_nothing(world):
    w = world
    w.monkeypatch.setenv("ANKI_SYNC_PASSWORD", "wrong")
    code, out, err = w.deck("login", "--endpoint", w.server)
    assert code == 2 and not out, (code, out, err)
    assert "the sync server refused the login" in err and "nothing was stored" in err, err
    assert not (w.tmp / "config" / "markdown-anki-deck" / "sync.json").exists()
    w.monkeypatch.setenv("ANKI_SYNC_PASSWORD", PASSWORD)

    w.setup(phone=False)
    key = w.tmp / "config" / "markdown-anki-deck" / "sync.json"
    stored = json.loads(key.read_text())
    key.write_text(json.dumps({**stored, "hkey": "not-the-key"}))
    err = refused(w, says="the sync server refused the login")
    assert "run 'deck login' again" in err


def test_refuses_when_the_server_is_down(world):
    w = world.setup(phone=False)
    key = w.tmp / "config" / "markdown-anki-deck" / "sync.json"
    stored = json.loads(key.read_text())
    key.write_text(json.dumps({**stored, "endpoint": f"http://127.0.0.1:{closed_port()}/"}))
    started = time.monotonic()
    refused(w, says="cannot reach the sync server")
    assert time.monotonic() - started < 30


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refuses_a_change_of_our_note_type_without_allow_full_sync(world):
    w = world.setup(phone=False)
    with w.desktop() as d:  # the user added a field to our note type in Anki, and synced
        add_field(d.col, "Markdown Basic")
        auth = d.col.sync_login(USER, PASSWORD, w.server)
        out = d.col.sync_collection(auth=auth, sync_media=False)
        full_sync(d.col, auth, out.server_media_usn, upload=True)
        assert not d.col.schema_changed()
    err = refused(w, says="'Markdown Basic' in the collection differ in fields or templates")
    assert "Pass --allow-full-sync" in err and "one-way sync" in err


def _reshape_and_sync(w: World, change) -> None:
    """`change` our note type in the desktop collection, as a user would in Anki, then
    sync one-way (that change needs it)."""
    with w.desktop() as d:
        change(d.col, d.col.models.by_name("Markdown Basic"))
        auth = d.col.sync_login(USER, PASSWORD, w.server)
        out = d.col.sync_collection(auth=auth, sync_media=False)
        full_sync(d.col, auth, out.server_media_usn, upload=True)
    Reply, full = _required_names()
    reply = w.phone.col.sync_collection(auth=w.p_auth, sync_media=True)
    full_sync(w.phone.col, w.p_auth, reply.server_media_usn, upload=False)


def _fields(col) -> list[str]:
    return [f["name"] for f in col.models.by_name("Markdown Basic")["flds"]]


def test_allow_full_sync_restores_our_note_type_at_the_cost_it_names(world):
    """A field of ours removed in Anki: the import brings it back, which needs a one-way
    sync; with --allow-full-sync the push uploads and says what that costs."""
    w = world.setup()

    def remove_source(col, model):
        col.models.remove_field(model, model["flds"][2])
        col.models.update_dict(model)

    _reshape_and_sync(w, remove_source)
    refused(w, says="differ in fields or templates")  # (it makes an edit to push)
    code, out, err = w.push("--allow-full-sync")
    assert code == 0, (out, err)
    assert ("one-way sync: uploaded; every other device downloads the whole collection, and "
            "reviews they had not synced are lost") in out
    with w.desktop() as d:
        assert _fields(d.col) == ["Front", "Back", "Source"] and not d.col.schema_changed()
    Reply, full = _required_names()
    reply = w.phone.col.sync_collection(auth=w.p_auth, sync_media=True)
    assert reply.required in full, reply_name(reply.required)
    full_sync(w.phone.col, w.p_auth, reply.server_media_usn, upload=False)
    assert _fields(w.phone.col) == ["Front", "Back", "Source"]
    assert any("An n-dimensional array." in w.phone.col.get_note(n)["Back"]
               for n in w.phone.col.find_notes(""))


def test_allow_full_sync_keeps_a_field_the_user_added_with_a_normal_sync(world):
    """A field added to our note type in Anki: merging keeps it, and needs no one-way
    sync; the notes update in place."""
    w = world.setup()
    _reshape_and_sync(w, lambda col, model: add_field(col, "Markdown Basic"))
    edit(w.ml, "An n-dimensional array of numbers.", "An n-dimensional array.")
    code, out, err = w.push("--allow-full-sync")
    assert code == 0 and "; normal sync" in out, (out, err)
    normal_sync(w.phone.col, w.p_auth, "phone")
    for col in (w.phone.col,):
        assert _fields(col) == ["Front", "Back", "Source", "Extra"]
        assert any("An n-dimensional array." in col.get_note(n)["Back"]
                   for n in col.find_notes(""))


# --- 4. the backup restores ------------------------------------------------------------------

def restore(backup: Path, into: Path) -> Path:
    """What Anki's Tools > Restore Backup does: the backend unpacks a `.colpkg` into a
    collection path while no collection is open on it."""
    from anki._backend import RustBackend

    into.mkdir()
    path = into / "collection.anki2"
    RustBackend().import_collection_package(
        col_path=str(path), backup_path=str(backup), media_folder=str(into / "collection.media"),
        media_db=str(into / "collection.media.db2"))
    return path


def test_the_printed_backup_restores_the_collection_as_it_was(world):
    w = world.setup(phone=False)
    before = w.desktop_state()
    add_image_card(w)
    with open(w.ml, "a", encoding="utf-8") as f:
        f.write("\n## What is a scalar?\n\nA single number.\n")
    edit(w.ml, "## F.relu\n\nReLU replaces every negative number with a zero\n\n", "")
    code, out, err = w.push()
    assert code == 0 and ": 2 new, 0 updated, 5 unchanged, 1 deleted" in out, (out, err)
    [backup] = re.findall(r"^backup: (.*\.colpkg) \(to undo", out, re.M)
    assert Path(backup).parent == w.tmp / "backups" and Path(backup).is_file()
    with w.desktop() as d:
        assert d.col.note_count() == CARDS + 1 and d.col.find_notes('"ReLU look"')
    restored = Anki(restore(Path(backup), w.tmp / "restored"))
    try:
        assert restored.col.note_count() == len(before["notes"]) == CARDS
        assert not restored.col.find_notes('"ReLU look"'), "the backup holds the push"
        assert restored.col.find_notes('"F.relu"'), "the backup lacks the deleted note"
        assert state(restored.col)["cards"] == before["cards"]
    finally:
        restored.close()


# --- 5. a push of an unchanged build changes nothing ---------------------------------------

def test_a_second_push_of_the_same_build_changes_nothing_anywhere(world):
    w = world.setup()
    w.phone.review_all()
    normal_sync(w.phone.col, w.p_auth, "phone: sync after studying")
    edit(w.ml, "An n-dimensional array of numbers.", "An n-dimensional array.")
    code, out, err = w.push()
    assert code == 0 and ": 0 new, 1 updated, 5 unchanged" in out, (out, err)
    normal_sync(w.phone.col, w.p_auth, "phone: sync after the push")
    desktop = w.desktop_state()
    backups = sorted((w.tmp / "backups").iterdir())

    code, out, err = w.push()  # a later build of the same sources
    assert code == 0, err
    assert w.desktop_state() == desktop, "an unchanged build changed the collection"
    w.phone_sync_brings_nothing()
    assert out == (f"pushed to '{w.desktop_path}': nothing to do, the collection has this "
                   f"build ({CARDS} notes unchanged); nothing was changed or synced\n")
    assert sorted((w.tmp / "backups").iterdir()) == backups, "a push of nothing backed up"


# --- 6. --dry-run -----------------------------------------------------------------------------

def test_dry_run_prints_the_plan_with_fronts_and_changes_nothing(world):
    w = world.setup(phone=False)
    edit(w.ml, "a nonlinear layer\n", "a nonlinear layer, such as ReLU or sigmoid\n")
    edit(w.ml, "## F.relu\n\nReLU replaces every negative number with a zero\n\n", "")
    move_stats(w)
    add_image_card(w)
    built = list((w.root / "build").glob("*.apkg"))
    assert built, "the first push built a package"
    for package in built:  # a dry run needs none, and writes none
        package.unlink()
    lock = (w.root / "source" / "deck.lock").read_bytes()
    desktop = w.desktop_state()

    code, out, err = w.push("--dry-run")
    assert code == 0, err
    assert out.splitlines() == [
        f"would push to '{w.desktop_path}':",
        "  new 1:", "    What does ReLU look like?",
        "  updated 3:", "    What is the variance of a sample?",
        "    What is the median of a sample?", "    activation function",
        "  deleted 1:", "    F.relu",
        "  moved 2:", "    What is the variance of a sample? -> math::Stats",
        "    What is the median of a sample? -> math::Stats",
        "  unchanged 2"], out
    assert w.desktop_state() == desktop, "--dry-run changed the collection"
    assert (w.root / "source" / "deck.lock").read_bytes() == lock, "--dry-run wrote the lock"
    assert not list((w.root / "build").glob("*.apkg")), "--dry-run wrote a package"
    code, out, _ = w.deck("pending", later=False)
    assert "nothing to do" in out, "--dry-run added steps to 'deck pending'"


# --- 7. --no-sync -----------------------------------------------------------------------------

def test_no_sync_applies_offline_and_leaves_the_move_pending(world):
    w = world.setup()
    edit(w.ml, "An n-dimensional array of numbers.", "An n-dimensional array.")
    move_stats(w)
    code, out, err = w.push("--no-sync")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (f"pushed to '{w.desktop_path}': 0 new, 3 updated, 3 unchanged, "
                        "0 deleted, 0 moved; not synced (--no-sync)"), out
    assert lines[1].startswith("cards whose deck changed were not moved: a move needs a sync "
                               "right before it"), out
    assert "W802" in err, f"the move is still to do, and the build's finding says so: {err}"
    with w.desktop() as d:
        fronts = fronts_of(d.col)
        assert "An n-dimensional array." in d.col.get_note(fronts["What is a tensor?"]).fields[1]
        stats = [c for f, n in fronts.items() if "of a sample" in f
                 for c in d.col.find_cards(f"nid:{n}")]
        assert {deck_of(d.col, c) for c in stats} == {"Stats"}, "--no-sync moved cards"
    code, out, _ = w.deck("pending", later=False)
    assert out.startswith("1 step to do in Anki") and (
        "move the cards of 2 notes from the deck 'Stats' to 'math::Stats'") in out, out
    w.phone_sync_brings_nothing()  # nothing reached the server


# --- 8. a kill during the import --------------------------------------------------------------

KILLER = """
import os, signal, sys, threading, time
from pathlib import Path

from generator import cli, collection

marks = Path(sys.argv[1])
real = collection.import_package


def import_then_die(*args, **kwargs):
    def kill():
        marks.joinpath("killed").write_text("killed during the import")
        os.kill(os.getpid(), signal.SIGKILL)

    marks.joinpath("started").write_text("")
    threading.Timer(float(sys.argv[2]), kill).start()
    result = real(*args, **kwargs)
    marks.joinpath("returned").write_text("the import finished before the kill")
    time.sleep(5)  # the kill lands here at the latest
    return result


collection.import_package = import_then_die
sys.exit(cli.main(sys.argv[3:]))
"""
KILL_AFTER = 0.03  # seconds into the import; importing 2,000 notes takes 0.1-0.2 s here


def test_a_kill_during_the_import_leaves_the_collection_whole(tmp_path, monkeypatch, capsys):
    from benchmarks.corpus import write_corpus

    root = write_corpus(2000, tmp_path / "project")
    path = tmp_path / "profile" / "collection.anki2"
    path.parent.mkdir()
    Anki(path).close()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no login: offline
           "SOURCE_DATE_EPOCH": str(NOW), "PYTHONPATH": str(ROOT), "DECK_DEBUG": "1"}
    marks = tmp_path / "marks"
    marks.mkdir()
    done = subprocess.run([sys.executable, "-c", KILLER, str(marks), str(KILL_AFTER),
                           "push", "--collection", str(path)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
    assert (marks / "started").exists() and (marks / "killed").exists()
    assert not (marks / "returned").exists(), (
        "the import finished before the kill: make KILL_AFTER smaller")

    col = Anki(path)
    try:
        assert col.col.db.scalar("pragma integrity_check") == "ok"
        notes = col.col.note_count()
        assert notes in (0, 2000), f"a killed import left {notes} of 2,000 notes"
        assert len(col.col.find_cards("")) == notes
    finally:
        col.close()

    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW))
    monkeypatch.setenv("DECK_DEBUG", "1")
    capsys.readouterr()
    code = main(["push", "--collection", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[0] == (
        f"pushed to '{path}': {2000 - notes} new, 0 updated, {notes} unchanged, 0 deleted, "
        "0 moved; not synced: no sync login ('deck login')"), out
    col = Anki(path)
    try:
        assert col.col.note_count() == 2000
        assert col.col.db.scalar("pragma integrity_check") == "ok"
    finally:
        col.close()


# --- 9. login, logout, and no backend ------------------------------------------------------

def test_login_keeps_only_the_key_owner_only_and_logout_removes_it(world):
    w = world
    key = w.tmp / "config" / "markdown-anki-deck" / "sync.json"
    code, out, err = w.deck("login", "--endpoint", w.server)
    assert code == 0, err
    assert out == (f"logged in to {w.server} as {USER}; the sync key (not the password) is in "
                   f"{key}\n")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600, oct(key.stat().st_mode)
    assert stat.S_IMODE(key.parent.stat().st_mode) & 0o077 == 0, "the folder is not private"
    text = key.read_text()
    assert PASSWORD not in text, "the password was stored"
    stored = json.loads(text)
    assert set(stored) == {"hkey", "endpoint", "user"} and stored["hkey"], stored
    assert stored["endpoint"].rstrip("/") == w.server.rstrip("/")

    code, out, err = w.deck("logout")
    assert (code, out) == (0, f"removed the sync key {key}\n"), err
    assert not key.exists()
    assert w.deck("logout")[:2] == (0, "no sync key was stored\n")


NO_ANKI = """
import sys
sys.modules["anki"] = None  # as if `anki` were not installed
from generator import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_without_the_backend_push_and_login_say_how_to_install_it(tmp_path):
    from generator.collection import INSTALL

    root = make_project(tmp_path, SOURCES)
    collection = tmp_path / "collection.anki2"
    Anki(collection).close()
    before = collection.read_bytes()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "SOURCE_DATE_EPOCH": str(NOW), "PYTHONPATH": str(ROOT),
           "ANKI_SYNC_USERNAME": USER, "ANKI_SYNC_PASSWORD": PASSWORD}
    for args in (["push", "--collection", str(collection)], ["login"]):
        done = subprocess.run([sys.executable, "-c", NO_ANKI, *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (2, ""), (args, done.stdout, done.stderr)
        assert done.stderr == f"deck: error: {INSTALL}\n", done.stderr
    assert "pip install" in INSTALL and "[push]" in INSTALL
    assert collection.read_bytes() == before
    assert not (tmp_path / "config").exists()


def test_refuses_a_damaged_collection_and_changes_no_byte(world):
    w = world
    w.desktop_path.write_bytes(b"this is not an Anki collection, it was cut short\0" * 20)
    before = w.desktop_path.read_bytes()
    code, out, err = w.push()
    assert code == 2 and not out, (code, out, err)
    assert err.startswith(f"deck: error: cannot open '{w.desktop_path}'")
    assert "Check Database" in err and err.endswith("nothing was changed\n"), err
    assert w.desktop_path.read_bytes() == before
    assert not (w.tmp / "backups").exists()


def test_a_backup_that_cannot_be_written_stops_the_push(world):
    """As on a full disk: the backup fails, so nothing else happens."""
    w = world.setup(phone=False)
    backups = w.tmp / "backups"
    for made in backups.iterdir():
        made.unlink()
    backups.rmdir()
    backups.write_text("a file where the backups folder should be")
    err = refused(w, says="cannot back up the collection into")
    assert str(backups) in err
