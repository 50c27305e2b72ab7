"""The only genanki user: note types, decks, and a deterministic, atomic `.apkg`.

genanki's defaults are avoided on purpose: GUIDs come from `identity.py`, each note carries
its own modification time, media are stored under content-hashed names, ids count from a
recorded base, and the zip has fixed dates and a fixed entry order.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from generator import atomic
from generator import kept as keptmod
from generator.cloze import cloze_numbers
from generator.model import KeptType, Kind, MediaFile, Note, temporary_prefix
from generator.notetypes import BY_KIND, NoteType


class MediaChanged(Exception):
    """A media file's bytes are not the ones its stored name was made from."""

    def __init__(self, item: MediaFile):
        super().__init__(item.source)
        self.item = item


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@functools.lru_cache(maxsize=None)
def deck_id(name: str) -> int:
    """From the name alone, so rebuilding elsewhere targets the same deck."""
    value = int.from_bytes(hashlib.sha256(name.encode()).digest()[:6], "big")
    return 1 << 50 | value  # positive, below 2**53, clear of Anki's default deck 1


def _model(notetype: NoteType, css: str):
    import genanki

    return genanki.Model(
        notetype.id, notetype.name,
        fields=[{"name": name, "id": fid} for name, fid in notetype.fields],
        templates=[{"name": t.name, "id": t.id, "qfmt": t.qfmt, "afmt": t.afmt}
                   for t in notetype.templates],
        css=css,
        model_type=genanki.Model.CLOZE if notetype.kind.value == "cloze"
        else genanki.Model.FRONT_BACK,
    )


def all_decks(names) -> list[str]:
    """Every deck with its parents, sorted."""
    out: set[str] = set()
    for name in names:
        parts = name.split("::")
        out.update("::".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(out)


def card_ords(note: Note) -> tuple[int, ...]:
    """Which of the note type's cards Anki makes for this note (template ordinals)."""
    kind = note.card.kind
    if kind is Kind.CLOZE:
        return tuple(n - 1 for n in cloze_numbers(note.rendered.fields[0]))
    return _ORDS[kind]


_ORDS = {kind: tuple(range(len(BY_KIND[kind].templates))) for kind in Kind}


@dataclass(frozen=True)
class Layout:
    """An empty collection as genanki lays it out: tables, indexes, and the `col` row with
    its note types and decks. Kept between builds (by the cache), so a rebuild does
    not import genanki, a sixth of a small rebuild's time."""

    tables: str
    indexes: str
    col: str  # genanki's INSERT of the col row
    decks: str  # JSON of the col row's decks
    models: str  # JSON of the col row's note types


def layout(decks: tuple[str, ...], css: str, notetype_mods: dict[int, int],
           id_base: int, kept: tuple[KeptType, ...] = ()) -> Layout:
    """`decks` as `all_decks` gives them; `kept`: the user's note types of adopted notes."""
    import genanki
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    models = [_model(nt, css) for nt in BY_KIND.values()]
    deck_list = [genanki.Deck(deck_id(name), name) for name in decks]
    # what genanki's Deck.write_to_db stores, for all decks in one statement
    with sqlite3.connect(":memory:") as conn:
        conn.executescript(APKG_SCHEMA)
        conn.executescript(APKG_COL)
        (decks_json,) = conn.execute("SELECT decks FROM col").fetchone()
    conn.close()
    stored_decks = {**json.loads(decks_json),
                    **{str(deck.deck_id): deck.to_json() for deck in deck_list}}
    default_deck = deck_list[0].deck_id if deck_list else 1
    stored = {str(model.model_id): model.to_json(id_base // 1000, default_deck)
              for model in models}
    for key, model in stored.items():
        model["mod"] = notetype_mods.get(int(key), model["mod"])
    for k in kept:
        stored[str(k.id)] = keptmod.model(k)
    # indexes are built after the rows go in: faster than keeping them up to date
    tables, mark, indexes = APKG_SCHEMA.partition("CREATE INDEX")
    return Layout(tables=tables, indexes=mark + indexes, col=APKG_COL,
                  decks=json.dumps(stored_decks, sort_keys=True),
                  models=json.dumps(stored, sort_keys=True))


def write(path: Path, notes: tuple[Note, ...], media: tuple[MediaFile, ...],
          collection: Layout, id_base: int, meanwhile: Callable[[], object] | None = None,
          kept: tuple[KeptType, ...] = ()) -> None:
    """Write the package to a temporary file beside `path`, then rename it into place.
    `meanwhile` runs here while another thread compresses (zlib lets go of the GIL)."""
    temporary: list[Path] = []
    try:
        db_path = _temporary(path, ".db", temporary)
        _write_db(db_path, notes, collection, id_base, kept)
        with atomic.replacing(path) as tmp:
            if meanwhile is None:
                _write_zip(tmp, db_path, media)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(1) as thread:
                    zipped = thread.submit(_write_zip, tmp, db_path, media)
                    try:
                        meanwhile()
                    finally:
                        zipped.result()  # waited for, whatever happened here; raises its error
    finally:
        for leftover in temporary:
            leftover.unlink(missing_ok=True)


def _temporary(path: Path, suffix: str, made: list[Path]) -> Path:
    """A scratch file beside `path` (named as `atomic.replacing` names its temporary
    files, so `sweep` finds it), recorded in `made` so it is always removed."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name),
                                suffix=suffix)
    os.close(fd)
    made.append(Path(name))
    return Path(name)


LEFTOVER_SECONDS = 3600  # a younger temporary file may belong to a build still running


def sweep(path: Path) -> None:
    """Remove the temporary files that builds killed midway (`kill -9`, a power cut) left
    beside the package `path` over an hour ago: those of any `.apkg` in its folder, and of
    `path` itself whatever its name. Best effort."""
    ours = re.compile(r"\.(?:.+\.apkg\.|" + re.escape(temporary_prefix(path.name)[1:]) +
                      r")[a-z0-9_]{8}\.(?:tmp|db)")  # as `_temporary` names them
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not ours.fullmatch(name):
            continue
        leftover = path.parent / name
        try:
            found = leftover.lstat()
            if stat.S_ISREG(found.st_mode) and time.time() - found.st_mtime > LEFTOVER_SECONDS:
                leftover.unlink()
        except OSError:
            pass


def _write_db(db_path: Path, notes, collection: Layout, id_base: int,
              kept: tuple[KeptType, ...] = ()) -> None:
    """The collection genanki laid out, then the notes and cards with one statement each,
    each note with its own time (genanki's per-note path stamps them all with one time
    and costs most of a build)."""
    model_ids = {kind: notetype.id for kind, notetype in BY_KIND.items()}
    by_id = {k.id: (k, keptmod.field_count(k)) for k in kept}

    def shaped(note: Note) -> tuple[int, tuple[str, ...] | list[str], tuple[int, ...]]:
        """The note's note type, fields and card ordinals: ours, or its own (adopted)."""
        found = by_id.get(note.row.kept) if note.row is not None and note.row.kept else None
        if found is None:
            return model_ids[note.card.kind], note.rendered.fields, card_ords(note)
        k, count = found
        packaged = keptmod.fields(note, k, count)
        return k.id, packaged, keptmod.ords(note, k, packaged)

    def numbered():
        """Each note with its id and its cards' (ids counted from the recorded base, a note's
        id first, then its cards', as genanki counts)."""
        ids = itertools.count(id_base)
        for note in notes:
            nid = next(ids)
            if by_id:
                mid, packaged, ords = shaped(note)
            else:  # no adopted notes: the usual case, without a call per note
                mid, packaged = model_ids[note.card.kind], note.rendered.fields
                ords = card_ords(note)
            yield note, nid, [(next(ids), ord_) for ord_ in ords], mid, packaged

    # rows are generated as they are inserted: 100,000 notes never sit in memory twice
    note_rows = ((nid, note.guid, mid, note.mod, -1,
                  f" {' '.join(note.card.tags)} " if note.card.tags else "",
                  "\x1f".join(packaged), packaged[0], 0, 0, "")
                 for note, nid, _, mid, packaged in numbered())
    # a new card's `due` is its position in the new-card queue: the order written
    card_rows = ((cid, nid, deck_id(note.card.deck), ord_, note.mod, -1, 0, 0, position, 0, 0,
                  0, 0, 0, 0, 0, 0, "")
                 for position, (note, nid, cards, _, _) in enumerate(numbered(), 1)
                 for cid, ord_ in cards)

    db_path.unlink()
    conn = sqlite3.connect(db_path)
    try:
        cursor = conn.cursor()
        # a scratch file renamed into place only when complete: no journal, no syncs; big
        # pages: fewer of them to write (any page size opens in Anki)
        cursor.execute("PRAGMA page_size = 16384")
        cursor.execute("PRAGMA journal_mode = OFF")
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.executescript(collection.tables)
        cursor.executescript(collection.col)
        cursor.execute("UPDATE col SET decks = ?, models = ?, mod = ?, crt = ?",
                       (collection.decks, collection.models, id_base, id_base // 1000))
        cursor.executemany("INSERT INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", note_rows)
        cursor.executemany("INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           card_rows)
        cursor.executescript(collection.indexes)
        conn.commit()
    finally:
        conn.close()


def _write_zip(target: Path, db_path: Path, media: tuple[MediaFile, ...]) -> None:
    ordered = sorted(media, key=lambda m: m.name)
    with open(target, "wb") as raw:
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as out:
            info = _info("collection.anki2")
            with open(db_path, "rb") as source, out.open(info, "w") as entry:
                shutil.copyfileobj(source, entry, 1 << 20)  # streamed: the database is large
            _add(out, "media", json.dumps({str(i): m.name for i, m in enumerate(ordered)},
                                          sort_keys=True).encode())
            for i, item in enumerate(ordered):
                data = Path(item.source).read_bytes()
                # the bytes that were hashed, or another device would never get the new ones
                if item.sha256 and hashlib.sha256(data).hexdigest() != item.sha256:
                    raise MediaChanged(item)
                _add(out, str(i), data)


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    # level 1: a fifth of the size for a third of level 6's time (the attribute's name
    # changed in Python 3.13)
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
    return info


def _add(out: zipfile.ZipFile, name: str, data: bytes) -> None:
    out.writestr(_info(name), data)
