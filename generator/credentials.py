"""The sync key `deck push` syncs with: the one `deck login` stored (never the password), in
the user's config folder, readable by its owner only; else the key Anki desktop keeps for
the profile being pushed to."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from generator import atomic
from generator.diagnostics import DeckError

APP = "markdown-anki-deck"


@dataclass(frozen=True)
class Key:
    hkey: str
    endpoint: str | None  # None: AnkiWeb
    source: str  # where it came from, for messages
    stored: bool = False  # by 'deck login' (else Anki desktop's)

    @property
    def server(self) -> str:
        return self.endpoint or "AnkiWeb"


def config_folder() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / APP


def key_path() -> Path:
    return config_folder() / "sync.json"


def store(hkey: str, endpoint: str | None, username: str) -> Path:
    """Owner-only from the moment it exists: written under a private temporary name."""
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write(path, json.dumps({"hkey": hkey, "endpoint": endpoint, "user": username},
                                  indent=2) + "\n", mode=0o600)
    return path


def forget() -> bool:
    """Whether there was a stored key."""
    try:
        key_path().unlink()
    except FileNotFoundError:
        return False
    return True


def stored() -> Key | None:
    path = key_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DeckError(f"cannot read the sync key in '{path}' ({error}): run 'deck login' "
                        "again") from None
    if not isinstance(data, dict) or not isinstance(data.get("hkey"), str):
        raise DeckError(f"'{path}' holds no sync key: run 'deck login' again")
    endpoint = data.get("endpoint")
    return Key(data["hkey"], endpoint if isinstance(endpoint, str) and endpoint else None,
               f"'deck login' ({data.get('user') or 'stored key'})", stored=True)


def moved(endpoint: str) -> None:
    """Keep the endpoint a sync reply sent us to (AnkiWeb moves accounts between hosts)."""
    path = key_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        store(data["hkey"], endpoint, data.get("user") or "")
    except (OSError, ValueError, KeyError, TypeError):
        pass


def from_profile(profile: dict) -> Key | None:
    """The key Anki desktop keeps for a profile it logged in, and that profile's server."""
    hkey = profile.get("syncKey")
    if not isinstance(hkey, str) or not hkey:
        return None
    endpoint = profile.get("currentSyncUrl") or profile.get("customSyncUrl") or None
    return Key(hkey, endpoint if isinstance(endpoint, str) else None,
               "Anki desktop's login for this profile")


def find(profile: dict | None) -> Key | None:
    """The stored key first (the user logged this tool in on purpose), then the profile's."""
    return stored() or (from_profile(profile) if profile else None)
