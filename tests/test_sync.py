"""The AnkiMobile path, end to end, with Anki's own sync server and the real `anki` backend.

A "desktop" collection imports the package and syncs it up; a "phone" collection syncs it
down and studies every card; the user edits the Markdown and rebuilds; the desktop imports
the new package and syncs; the phone must receive the edits by a normal (not full) sync,
with its review history and media intact.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, build_project, copy_seed

pytestmark = pytest.mark.anki

NOW = 1_800_000_000
MEDIA_SYNC_TIMEOUT = 20.0
CARDS_FILE = "march-2025-flashcards.md"


def tiny_png() -> bytes:
    """A valid 1x1 black PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # filter byte, one pixel
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def _reply():
    from anki.sync_pb2 import SyncCollectionResponse

    return SyncCollectionResponse


def reply_name(required: int) -> str:
    return _reply().ChangesRequired.Name(required)


def wait_for_media_sync(col) -> None:
    """Media sync runs in a background thread after a collection sync; wait for it.
    `media_sync_status()` raises if that sync failed."""
    deadline = time.monotonic() + MEDIA_SYNC_TIMEOUT
    while col.media_sync_status().active:
        if time.monotonic() > deadline:
            col.abort_media_sync()
            pytest.fail(f"media sync did not finish within {MEDIA_SYNC_TIMEOUT:.0f}s")
        time.sleep(0.05)


def full_sync(col, auth, server_media_usn: int, upload: bool) -> None:
    """What Anki desktop does when a full sync is required: the backend closes the
    collection, replaces it (or the server's copy), then it is reopened; media follow."""
    col.close_for_full_sync()
    try:
        col.full_upload_or_download(auth=auth, server_usn=server_media_usn, upload=upload)
    finally:
        col.reopen(after_full_sync=True)
    wait_for_media_sync(col)


def normal_sync(col, auth, who: str) -> None:
    """One press of Sync that must carry changes without a full sync.

    `sync_collection()` performs a normal sync itself and then replies with what is still
    required, so a successful normal sync replies NO_CHANGES; that changes did travel
    shows in the collection's update sequence number, which follows the server's."""
    reply = _reply()
    usn_before = col.db.scalar("select usn from col")
    out = col.sync_collection(auth=auth, sync_media=True)
    assert out.required in (reply.NO_CHANGES, reply.NORMAL_SYNC), (
        f"{who}: expected a normal sync, but the server asked for "
        f"{reply_name(out.required)}")
    assert col.db.scalar("select usn from col") != usn_before, (
        f"{who}: the sync exchanged nothing (usn stayed {usn_before})")
    wait_for_media_sync(col)


def first_field(note) -> str:
    return note.fields[0]


def note_with(notes: dict, text: str, who: str):
    found = [n for n in notes.values() if text in first_field(n)]
    assert len(found) == 1, (f"{who}: expected one note whose front contains {text!r}, "
                             f"found {[first_field(n) for n in found]}")
    return found[0]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_edits_reach_a_phone_through_sync_without_a_full_sync(tmp_path, anki_factory,
                                                               sync_server):
    reply = _reply()
    full_replies = {reply.FULL_SYNC, reply.FULL_UPLOAD, reply.FULL_DOWNLOAD}

    # --- v1: the seed deck plus a card with an image ---------------------------------
    root = copy_seed(tmp_path)
    (root / "media").mkdir(exist_ok=True)
    png = tiny_png()
    (root / "media" / "dot.png").write_bytes(png)
    cards_md = root / "source" / CARDS_FILE
    with open(cards_md, "a", encoding="utf-8") as f:
        f.write("\n## A card with an image\n\n![dot](dot.png)\n")
    built, _, compiled_v1 = build_project(root, now=NOW)
    v1 = tmp_path / "v1.apkg"
    shutil.copyfile(built, v1)
    v1_guids = {n.guid for n in compiled_v1.notes}
    assert len(compiled_v1.media) == 1, "the image card should bring one media file"
    media_name = compiled_v1.media[0].name

    # --- desktop imports v1 and publishes it (first sync: a full upload) --------------
    desktop = anki_factory("desktop")
    log = desktop.import_package(v1)
    assert len(log.new) == len(v1_guids), f"desktop import of v1: {len(log.new)} new notes"
    d_auth = desktop.col.sync_login(USER, PASSWORD, sync_server)
    out = desktop.col.sync_collection(auth=d_auth, sync_media=True)
    assert out.required in full_replies, (
        f"desktop: first sync should need a full sync, got {reply_name(out.required)}")
    assert out.required != reply.FULL_DOWNLOAD, "desktop has cards; it must be able to upload"
    full_sync(desktop.col, d_auth, out.server_media_usn, upload=True)

    # --- phone: first sync is a full download ----------------------------------------
    phone = anki_factory("phone")
    p_auth = phone.col.sync_login(USER, PASSWORD, sync_server)
    out = phone.col.sync_collection(auth=p_auth, sync_media=True)
    assert out.required in (reply.FULL_DOWNLOAD, reply.FULL_SYNC), (
        f"phone: an empty collection should need a full download, got "
        f"{reply_name(out.required)}")
    full_sync(phone.col, p_auth, out.server_media_usn, upload=False)

    phone_notes = phone.notes()
    assert set(phone_notes) == v1_guids, (
        f"phone after full download: missing {sorted(v1_guids - set(phone_notes))}, "
        f"unexpected {sorted(set(phone_notes) - v1_guids)}")
    phone_media = Path(phone.col.media.dir()) / media_name
    assert phone_media.is_file(), (
        f"phone media folder lacks {media_name}: {sorted(os.listdir(phone.col.media.dir()))}")
    assert phone_media.read_bytes() == png, "phone's copy of the image differs from the source"

    # --- phone studies everything and syncs; desktop receives the reviews -------------
    card_count = len(phone.col.find_cards(""))
    assert phone.review_all() == card_count, "phone should answer every card once"
    assert not phone.col.find_cards("is:new"), "phone still has new cards after studying"
    normal_sync(phone.col, p_auth, "phone: sync after studying")
    normal_sync(desktop.col, d_auth, "desktop: sync to receive the reviews")
    revlog_count = phone.col.db.scalar("select count() from revlog")
    assert revlog_count == card_count
    assert desktop.col.db.scalar("select count() from revlog") == revlog_count, (
        "desktop did not receive the phone's reviews")

    studied = phone.card_states()
    phone_nids = {guid: note.id for guid, note in phone.notes().items()}

    # --- the user edits the Markdown and rebuilds ---------------------------------------
    edit(cards_md, "## activation function\n\na nonlinear layer\n",
         "## activation function\n\na nonlinear layer, such as ReLU or sigmoid\n")
    edit(cards_md, "## Consequence of using a learning rate that is too low?",
         "## Consequence of using a learning rate that is far too low?")
    edit(cards_md, "## `F.relu`\n\nReLU Rectified Linear Unit (replace every negative number "
         "with a zero)\n\n", "")
    with open(cards_md, "a", encoding="utf-8") as f:
        f.write("\n## What does `torch.no_grad()` do?\n\n"
                "Turns off gradient tracking inside its block.\n")
    v2, summary, compiled_v2 = build_project(root, now=NOW + 5)
    v2_guids = {n.guid for n in compiled_v2.notes}
    kept = v1_guids & v2_guids
    assert len(kept) == len(v1_guids) - 1, "the build should keep every GUID but the deleted card's"
    new_guids = v2_guids - v1_guids
    assert len(new_guids) == 1, f"the build should make one new GUID, made {sorted(new_guids)}"
    (new_guid,) = new_guids
    assert [e.front_text for e in summary.removed] == ["`F.relu`"]

    # --- desktop imports v2 and syncs: a normal sync -------------------------------
    activation = note_with(desktop.notes(), "activation function", "desktop")
    reworded = note_with(desktop.notes(), "learning rate that is too low", "desktop")
    log = desktop.import_package(v2)
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (1, 2, 0), (
        f"desktop import of v2: {len(log.new)} new, {len(log.updated)} updated, "
        f"{len(log.conflicting)} conflicting; expected 1, 2, 0")
    assert {n.id.nid for n in log.updated} == {activation.id, reworded.id}, (
        "the updated notes should be the edited back and the reworded question")
    assert not desktop.col.schema_changed(), (
        "importing v2 changed the desktop's schema: every device would need a full sync")
    normal_sync(desktop.col, d_auth, "desktop: sync after importing v2")

    # --- phone syncs: a normal sync brings v2 -----------------------------------------
    normal_sync(phone.col, p_auth, "phone: sync to receive v2")
    notes = phone.notes()
    back = notes[activation.guid].fields[1]
    assert "such as ReLU or sigmoid" in back, f"phone: edited back did not arrive: {back!r}"
    assert "far too low" in first_field(notes[reworded.guid]), (
        f"phone: reworded question did not arrive: {first_field(notes[reworded.guid])!r}")
    assert new_guid in notes, "phone: the new card did not arrive"
    assert "torch.no_grad()" in first_field(notes[new_guid])
    new_cards = phone.col.find_cards(f"nid:{notes[new_guid].id}")
    assert len(new_cards) == 1 and phone.col.get_card(new_cards[0]).type == 0, (
        "phone: the new card should arrive unstudied")

    fronts = [first_field(n) for n in notes.values()]
    duplicates = sorted({f for f in fronts if fronts.count(f) > 1})
    assert not duplicates, f"phone: duplicate notes for {duplicates}"
    moved = {g: (phone_nids[g], notes[g].id) for g in kept if notes[g].id != phone_nids[g]}
    assert not moved, f"phone: kept notes changed id (guid: (before, after)): {moved}"

    assert phone.col.db.scalar("select count() from revlog") == revlog_count, (
        "phone: review history changed")
    after = phone.card_states()
    lost = sorted(set(studied) - set(after))
    assert not lost, f"phone: studied cards disappeared: {lost}"
    changed = {cid: (studied[cid], after[cid]) for cid in studied if after[cid] != studied[cid]}
    assert not changed, ("phone: review state changed, card id: ((nid, ord, type, queue, due, "
                         f"ivl, reps) before, after): {changed}")
    assert phone_media.is_file() and phone_media.read_bytes() == png, (
        "phone: the image is gone or changed after the second sync")
