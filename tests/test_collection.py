"""Finding the user's collection and the sync key, without running anything a profile's
pickle names."""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

import pytest

from generator import collection, credentials
from generator.diagnostics import DeckError


class _QByteArray:
    """Stands for the Qt classes Anki pickles into a profile (window geometry)."""

    def __init__(self, data: bytes = b""):
        self.data = data


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


_QByteArray.__module__ = "PyQt6.QtCore"
_QByteArray.__qualname__ = "QByteArray"


def _pickled(data: dict) -> bytes:
    """As Anki pickles a profile: Qt classes by reference (importable only while pickling,
    here: reading it back must not import them)."""
    import sys
    import types

    qt, core = types.ModuleType("PyQt6"), types.ModuleType("PyQt6.QtCore")
    core.QByteArray = _QByteArray  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("PyQt6", "PyQt6.QtCore")}
    sys.modules.update({"PyQt6": qt, "PyQt6.QtCore": core})
    try:
        return pickle.dumps(data, 4)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def prefs(base: Path, profiles: dict[str, dict]) -> None:
    """An Anki data folder as Anki desktop writes it: prefs21.db, one folder a profile."""
    base.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(base / "prefs21.db")
    conn.execute("create table profiles (name text primary key, data blob)")
    for name, data in profiles.items():
        conn.execute("insert into profiles values (?, ?)", (name, _pickled(data)))
        if name != "_global":
            (base / name).mkdir(exist_ok=True)
            (base / name / "collection.anki2").write_bytes(b"")
    conn.commit()
    conn.close()


def test_the_last_profile_anki_opened_is_the_default(tmp_path, monkeypatch):
    import sys

    base = tmp_path / "Anki2"
    geometry = _QByteArray(b"\x01")
    prefs(base, {"_global": {"last_loaded_profile_name": "Work"},
                 "User 1": {"syncKey": "k1", "mainWindowGeom": geometry},
                 "Work": {"syncKey": "k2", "currentSyncUrl": "http://host:8080/",
                          "mainWindowGeom": geometry}})
    monkeypatch.setenv("ANKI_BASE", str(base))
    assert "PyQt6" not in sys.modules  # reading the profiles must not import it
    where = collection.locate()
    assert (where.profile, where.collection) == ("Work", base / "Work" / "collection.anki2")
    assert where.folder == base / "Work" and where.base == base
    assert collection.locate(profile="User 1").profile == "User 1"
    assert collection.locate(base=str(base), profile="User 1").folder == base / "User 1"
    profiles = collection.read_profiles(base)
    key = credentials.from_profile(profiles["Work"])
    assert key is not None and (key.hkey, key.endpoint) == ("k2", "http://host:8080/")
    assert credentials.from_profile(profiles["User 1"]).endpoint is None
    assert credentials.from_profile({"syncKey": None}) is None
    assert "PyQt6" not in sys.modules


def test_a_profile_pickle_runs_nothing(tmp_path, monkeypatch):
    base = tmp_path / "Anki2"
    prefs(base, {"_global": {}, "Only": {"syncKey": "k", "evil": _Evil()}})
    monkeypatch.chdir(tmp_path)
    profiles = collection.read_profiles(base)
    assert profiles["Only"]["syncKey"] == "k"
    assert not (tmp_path / "pwned").exists()
    # one profile and no record of the last one: that one
    assert collection.locate(base=str(base)).profile == "Only"


def test_a_missing_collection_or_profile_is_an_error_that_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "collection.anki2"
    with pytest.raises(DeckError, match="no collection at .*the backend would create an empty"):
        collection.locate(collection=str(missing))
    assert not missing.parent.exists()
    base = tmp_path / "Anki2"
    prefs(base, {"_global": {}, "A": {}, "B": {}})
    with pytest.raises(DeckError, match=r"no Anki profile found .*\(profiles: A, B\)"):
        collection.locate(base=str(base))
    with pytest.raises(DeckError, match="profile 'C' has no collection"):
        collection.locate(base=str(base), profile="C")
    with pytest.raises(DeckError, match="no Anki profile found"):
        collection.locate(base=str(tmp_path / "empty"))


def test_a_collection_path_may_name_the_profile_folder(tmp_path):
    folder = tmp_path / "User 1"
    folder.mkdir()
    (folder / "collection.anki2").write_bytes(b"")
    where = collection.locate(collection=str(folder))
    assert where.collection == folder / "collection.anki2" and where.folder == folder
    assert where.base is None


def test_the_platform_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ANKI_BASE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert collection.data_folder() == tmp_path / "data" / "Anki2"
    monkeypatch.setenv("ANKI_BASE", str(tmp_path / "elsewhere"))
    assert collection.data_folder() == tmp_path / "elsewhere"
    assert collection.data_folder(str(tmp_path / "given")) == tmp_path / "given"


def test_the_stored_key_is_the_owners_only_and_holds_no_password(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = credentials.store("hkey-1", "http://127.0.0.1:1/", "me@example.com")
    assert path == tmp_path / "config" / "markdown-anki-deck" / "sync.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert "password" not in path.read_text()
    key = credentials.find({"syncKey": "from-anki"})
    assert key is not None and (key.hkey, key.endpoint, key.stored) == (
        "hkey-1", "http://127.0.0.1:1/", True)
    credentials.moved("http://127.0.0.1:2/")
    assert credentials.stored().endpoint == "http://127.0.0.1:2/"
    assert credentials.forget() and not credentials.forget()
    assert credentials.find({"syncKey": "from-anki"}).hkey == "from-anki"
    path.write_text("{oops")
    with pytest.raises(DeckError, match="run 'deck login' again"):
        credentials.stored()
