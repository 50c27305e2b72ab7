"""The user's Anki collection, through the official backend (`anki` on PyPI) and nothing
else: this is the only module that imports it. Finding the collection, opening it (never
beside a running Anki), backing it up, syncing, and the few writes `deck push` makes.

Facts this relies on are in ../shared/ANKI-COLLECTION.md and tested in tests/test_push.py:
the backend locks the file while it is open (a second opener gets "Anki already open");
`Collection(path)` creates a missing file, so a missing one is refused first; touching the
file with anything but the backend (Python's sqlite3) drops that lock, so nothing does.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import sqlite3
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from generator.diagnostics import DeckError

INSTALL = ("'deck push' and 'deck login' need Anki's backend, the `anki` package: install "
           "it into this tool's environment (in its checkout: `.venv/bin/pip install -e "
           "'.[push]'`)")
MEDIA_TIMEOUT = 600.0  # seconds to wait for the media upload before giving up on it


def backend():
    """The `anki` package, or a clear error saying how to install it."""
    try:
        import anki.collection
    except ImportError:
        raise DeckError(INSTALL) from None
    return anki.collection


# --- where the collection is ------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    collection: Path  # collection.anki2
    profile: str  # the profile's name ("" for --collection outside a profile folder)
    folder: Path  # the profile's folder: backups/ goes there
    base: Path | None  # Anki's data folder, when the collection is in one


def data_folder(base: str | None = None) -> Path:
    """Anki's data folder: --base, ANKI_BASE, or the platform's place for it."""
    if base or os.environ.get("ANKI_BASE"):
        return Path(base or os.environ["ANKI_BASE"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Anki2"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Anki2"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "Anki2"


def locate(collection: str | None = None, profile: str | None = None,
           base: str | None = None) -> Where:
    if collection:
        path = Path(collection).expanduser().resolve()
        if path.is_dir():
            path = path / "collection.anki2"
        if not path.is_file():
            raise DeckError(f"no collection at '{path}' (the backend would create an empty "
                            "one there); give the path of an existing 'collection.anki2'")
        return Where(path, path.parent.name, path.parent, None)
    folder = data_folder(base)
    profiles = read_profiles(folder)
    names = sorted(name for name in profiles if name != "_global")
    name = profile or profiles.get("_global", {}).get("last_loaded_profile_name")
    if not name and len(names) == 1:
        name = names[0]
    if not name:
        listed = f" (profiles: {', '.join(names)})" if names else ""
        raise DeckError(f"no Anki profile found in '{folder}'{listed}: pass --profile NAME, "
                        "--base DIR (Anki's data folder) or --collection PATH")
    path = folder / name / "collection.anki2"
    if not path.is_file():
        raise DeckError(f"profile '{name}' has no collection at '{path}'"
                        + (f"; profiles here: {', '.join(names)}" if names else ""))
    return Where(path, name, path.parent, folder)


class _Opaque:
    """Stands in for any class a profile's pickle names (Qt window geometry and the like):
    nothing is imported or run, the value is just not kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _SafeUnpickler(pickle.Unpickler):
    SAFE = {("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "str",
                                      "bytes", "int", "float", "bool", "complex")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.SAFE:
            return super().find_class(module, name)
        return _Opaque


def read_profiles(base: Path) -> dict[str, dict]:
    """Anki's profiles (`prefs21.db`: one pickle per profile, plus `_global`), read without
    unpickling any class but plain containers and scalars; an unreadable one is empty."""
    path = base / "prefs21.db"
    if not path.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("select name, cast(data as blob) from profiles").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    profiles = {}
    for name, data in rows:
        try:
            value = _SafeUnpickler(io.BytesIO(data)).load()
        except Exception:  # damaged, or from a Python that pickles differently
            value = {}
        profiles[name] = value if isinstance(value, dict) else {}
    return profiles


# --- opening ----------------------------------------------------------------------------

class AnkiOpen(DeckError):
    """Anki (or another program) has the collection open."""


@contextmanager
def opened(where: Where) -> Iterator[Any]:
    """The collection, open for this process alone; closed however the block ends."""
    mod = backend()
    from anki.errors import DBError

    try:
        col = mod.Collection(str(where.collection))
    except DBError as error:
        text = str(error)
        if "already open" in text:
            raise AnkiOpen("Anki has this collection open: close Anki (or switch to another "
                           "profile in it) and run the command again; nothing was changed") from None
        if "FileTooNew" in repr(error) or "too new" in text.lower():
            raise DeckError(f"'{where.collection}' was written by a newer Anki than this "
                            "tool's backend: upgrade the `anki` package; nothing was "
                            "changed") from None
        raise DeckError(f"cannot open '{where.collection}': {text or type(error).__name__} "
                        "(is it an Anki collection? Tools > Check Database in Anki may "
                        "repair it); nothing was changed") from None
    try:
        yield col
    finally:
        col.close()


# --- what it holds ----------------------------------------------------------------------

@dataclass(frozen=True)
class Held:
    """A note of the collection, as a push needs to know it."""

    id: int
    mid: int
    mod: int
    cards: tuple[tuple[int, int, int], ...]  # (card id, ord, home deck id)


def held(col, guids) -> dict[str, Held]:
    """The collection's notes with these GUIDs."""
    wanted = set(guids)
    notes = {}
    for nid, guid, mid, mod in col.db.all("select id, guid, mid, mod from notes"):
        if guid in wanted:
            notes[guid] = (nid, mid, mod)
    cards: dict[int, list[tuple[int, int, int]]] = {}
    if notes:
        ids = {nid for nid, _, _ in notes.values()}
        for cid, nid, ord_, did, odid in col.db.all(
                "select id, nid, ord, did, odid from cards"):
            if nid in ids:
                cards.setdefault(nid, []).append((cid, ord_, odid or did))
    return {guid: Held(nid, mid, mod, tuple(sorted(cards.get(nid, ()))))
            for guid, (nid, mid, mod) in notes.items()}


def notetype_shapes(col, ids) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Our note types as the collection has them: (field names, template names)."""
    shapes = {}
    for nid in ids:
        notetype = col.models.get(nid)
        if notetype is not None:
            shapes[nid] = (tuple(f["name"] for f in notetype["flds"]),
                           tuple(t["name"] for t in notetype["tmpls"]))
    return shapes


def deck_id(col, name: str) -> int:
    return int(col.decks.id(name, create=True))


def empty_cards(col) -> set[int]:
    """The cards Anki's Tools > Empty Cards would delete."""
    return {cid for note in col.get_empty_cards().notes for cid in note.card_ids}


def counters(col) -> tuple[int, int, int]:
    """(collection mod, schema mod, usn): what moves when anything changes."""
    return tuple(col.db.first("select mod, scm, usn from col"))


# --- writes ------------------------------------------------------------------------------

def backup(col, where: Where) -> Path:
    """Anki's own backup (a `.colpkg` of the collection, no media) in the profile's
    `backups/` folder, as Anki keeps them; raises DeckError when none was written."""
    folder = where.folder / "backups"
    before = _backups(folder)
    # Anki names a backup after the second it is made in: one made in the same second as
    # an earlier one (two pushes in a row) would overwrite it, so wait for the next second
    deadline = time.monotonic() + 1.5
    while (any(mtime // 10**9 == time.time_ns() // 10**9 for mtime in before.values())
           and time.monotonic() < deadline):
        time.sleep(0.02)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made = col.create_backup(backup_folder=str(folder), force=True,
                                 wait_for_completion=True)
    except Exception as error:  # a full disk, a read-only folder
        raise DeckError(f"cannot back up the collection into '{folder}': {error}; nothing "
                        "was changed") from None
    new = [p for p, mtime in _backups(folder).items() if before.get(p) != mtime]
    if not made or not new:
        raise DeckError(f"Anki's backend wrote no backup into '{folder}'; nothing was "
                        "changed")
    return max(new, key=lambda p: p.stat().st_mtime)


def _backups(folder: Path) -> dict[Path, int]:
    """The backups in `folder`, with their modification times (ns)."""
    try:
        return {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix == ".colpkg"}
    except OSError:
        return {}


def import_package(col, package: Path, merge_notetypes: bool = False,
                   with_scheduling: bool = False):
    """Import as Anki desktop does by default (update notes and note types "if newer",
    no scheduling); the import log."""
    mod = backend()
    options = col._backend.get_import_anki_package_presets()
    options.merge_notetypes = merge_notetypes
    options.with_scheduling = with_scheduling
    result = col.import_anki_package(mod.ImportAnkiPackageRequest(
        package_path=str(package), options=options))
    col.models._clear_cache()  # note types as the import left them
    return result.log


def sync(col, auth) -> Any:
    """One normal sync of the collection (no media); the server's reply."""
    return col.sync_collection(auth=auth, sync_media=False)


def sync_with_media(col, auth, timeout: float = MEDIA_TIMEOUT) -> tuple[Any, int]:
    """A sync, then the media upload waited for (closing the collection would abort it);
    the reply and the number of media files the server took."""
    output = col.sync_collection(auth=auth, sync_media=True)
    deadline = time.monotonic() + timeout
    status = col.media_sync_status()
    while status.active and time.monotonic() < deadline:
        time.sleep(0.05)
        status = col.media_sync_status()  # raises if the media sync failed
    if status.active:
        raise DeckError("the media upload did not finish in time; open Anki and sync to "
                        "finish it")
    return output, _count(status.progress.added)


def _count(text: str) -> int:
    """The files uploaded, from the backend's progress text ("Added: 1↑ 0↓"): its first
    number (the digits of both counts run together would read "10")."""
    found = re.search(r"\d+", str(text))
    return int(found.group()) if found else 0


def full_upload(col, auth, server_media_usn: int, timeout: float = MEDIA_TIMEOUT) -> None:
    """This collection replaces the server's (`--allow-full-sync`), as Anki's "upload"
    button does: the backend closes the collection, sends it, and it is opened again."""
    col.close_for_full_sync()
    try:
        col.full_upload_or_download(auth=auth, server_usn=server_media_usn, upload=True)
    finally:
        col.reopen(after_full_sync=True)
    deadline = time.monotonic() + timeout
    while col.media_sync_status().active and time.monotonic() < deadline:
        time.sleep(0.05)


def convert(col, notes: dict[tuple[int, int], list[int]], ours: dict[int, dict],
            mapping: dict[tuple[int, int], tuple[list[int], list[int] | None]]) -> None:
    """Move notes to this tool's note types inside the collection (`deck adopt --convert`):
    ids, schedules and review logs stay; it is a schema change (one full sync).
    `notes`: (old note type id, new note type id) -> note ids, keyed like `mapping`, which
    gives each pair's new fields and templates as old ordinals (-1: none)."""
    from anki.utils import to_json_bytes

    for nid, data in ours.items():  # this tool's note types, with their own ids
        if col.models.get(nid) is None:
            col._backend.add_or_update_notetype(json=to_json_bytes(data),
                                                preserve_usn_and_mtime=True, skip_checks=False)
    col.models._clear_cache()
    for (old, target), note_ids in notes.items():
        fields, templates = mapping[(old, target)]
        request = col.models.change_notetype_info(old_notetype_id=old,
                                                  new_notetype_id=target).input
        request.note_ids.extend(note_ids)
        del request.new_fields[:]
        request.new_fields.extend(fields)
        if templates is not None:
            del request.new_templates[:]
            request.new_templates.extend(templates)
        col.models.change_notetype_of_notes(request)


def required(output) -> str:
    """What a sync reply asks for: 'none', 'normal' or 'full'."""
    kinds = type(output).ChangesRequired
    if output.required in (kinds.FULL_SYNC, kinds.FULL_UPLOAD, kinds.FULL_DOWNLOAD):
        return "full"
    return "normal" if output.required == kinds.NORMAL_SYNC else "none"


def login(username: str, password: str, endpoint: str | None):
    """A sync key from the server (AnkiWeb when `endpoint` is None): (hkey, endpoint)."""
    import tempfile

    mod = backend()
    with tempfile.TemporaryDirectory(prefix="deck-login-") as tmp:
        col = mod.Collection(str(Path(tmp) / "collection.anki2"))
        try:
            auth = col.sync_login(username=username, password=password, endpoint=endpoint)
        finally:
            col.close()
    return auth.hkey, auth.endpoint or endpoint


def auth(hkey: str, endpoint: str | None):
    from anki.sync import SyncAuth

    return SyncAuth(hkey=hkey, endpoint=endpoint or None)


@contextmanager
def sync_errors(tail: str) -> Iterator[None]:
    """A sync error (login, network, server, clock) as a DeckError saying it plainly and
    then `tail` (what was or was not changed); any other error passes through."""
    try:
        yield
    except DeckError:
        raise
    except Exception as error:
        said = sync_failure(error)
        if said is None:
            raise
        raise DeckError(f"{said}; {tail}") from None


def sync_failure(error: Exception) -> str | None:
    """A sync error said plainly, or None when `error` is no sync error."""
    from anki.errors import NetworkError, SyncError, SyncErrorKind

    if isinstance(error, SyncError) and error.kind == SyncErrorKind.AUTH:
        return ("the sync server refused the login: run 'deck login' again (AnkiWeb's user "
                "name and password, or your server's)")
    if isinstance(error, SyncError) and "clock" in str(error).lower():
        return f"the sync server says this computer's clock is off: {error}"
    if isinstance(error, SyncError):
        return f"the sync failed: {error}"
    if isinstance(error, NetworkError):
        return f"cannot reach the sync server: {error}"
    return None
