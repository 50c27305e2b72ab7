"""The only genanki user: note types, decks, and a deterministic, atomic `.apkg`.

genanki's defaults are avoided on purpose: GUIDs come from `lock.py`, each note carries
its own modification time, media are stored under content-hashed names, ids count from a
recorded base, and the zip has fixed dates and a fixed entry order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
import warnings
import zipfile
from pathlib import Path

from generator.model import MediaFile, Note
from generator.notetypes import BY_KIND, NoteType

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


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
    out = set()
    for name in names:
        parts = name.split("::")
        out.update("::".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(out)


def write(path: Path, notes: tuple[Note, ...], media: tuple[MediaFile, ...], css: str,
          notetype_mods: dict[int, int], id_base: int) -> None:
    """Write the package to a temporary file beside `path`, then rename it into place."""
    import genanki

    models = {kind: _model(nt, css) for kind, nt in BY_KIND.items()}
    decks = {name: genanki.Deck(deck_id(name), name)
             for name in all_decks(n.card.deck for n in notes)}
    for note in notes:
        card = note.card
        decks[card.deck].add_note(genanki.Note(
            model=models[card.kind], fields=list(note.rendered.fields),
            tags=list(card.tags), guid=note.guid))
    for deck in decks.values():
        for model in models.values():
            deck.add_model(model)

    temporary: list[Path] = []
    try:
        tmp = _temporary(path, ".tmp", temporary)
        db_path = _temporary(path, ".db", temporary)
        _write_db(db_path, list(decks.values()), notes, notetype_mods, id_base)
        _write_zip(tmp, db_path, media)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a package is a plain file
        os.replace(tmp, path)
    finally:
        for leftover in temporary:
            leftover.unlink(missing_ok=True)


def _temporary(path: Path, suffix: str, made: list[Path]) -> Path:
    """A new empty file beside `path`, recorded in `made` so it is always removed."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    made.append(Path(name))
    return Path(name)


def _write_db(db_path: Path, decks, notes, notetype_mods, id_base) -> None:
    import genanki

    db_path.unlink()
    conn = sqlite3.connect(db_path)
    try:
        cursor = conn.cursor()
        with warnings.catch_warnings():
            # genanki's HTML check flags valid markup (e.g. `<hr id="answer">`); the
            # checks on our side are in `check.py`
            warnings.simplefilter("ignore")
            genanki.Package(decks).write_to_db(cursor, id_base / 1000,
                                               itertools.count(id_base))
        # genanki stamps every note with one time; each note keeps its own instead (a
        # temporary, indexed table: the package's own schema stays Anki's)
        cursor.execute("CREATE TEMP TABLE note_mod (guid TEXT PRIMARY KEY, mod INTEGER)")
        cursor.executemany("INSERT INTO note_mod VALUES (?, ?)", [(n.guid, n.mod) for n in notes])
        cursor.execute("UPDATE notes SET mod = (SELECT mod FROM note_mod "
                       "WHERE note_mod.guid = notes.guid)")
        cursor.execute("UPDATE cards SET mod = (SELECT mod FROM notes WHERE id = cards.nid)")
        (models_json,) = cursor.execute("SELECT models FROM col").fetchone()
        models = json.loads(models_json)
        for key, model in models.items():
            model["mod"] = notetype_mods.get(int(key), model["mod"])
        cursor.execute("UPDATE col SET models = ?, mod = ?, crt = ?",
                       (json.dumps(models, sort_keys=True), id_base, id_base // 1000))
        conn.commit()
    finally:
        conn.close()


def _write_zip(target: Path, db_path: Path, media: tuple[MediaFile, ...]) -> None:
    ordered = sorted(media, key=lambda m: m.name)
    with open(target, "wb") as raw:
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as out:
            _add(out, "collection.anki2", db_path.read_bytes())
            _add(out, "media", json.dumps({str(i): m.name for i, m in enumerate(ordered)},
                                          sort_keys=True).encode())
            for i, item in enumerate(ordered):
                _add(out, str(i), Path(item.source).read_bytes())
        raw.flush()
        os.fsync(raw.fileno())


def _add(out: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    out.writestr(info, data)
