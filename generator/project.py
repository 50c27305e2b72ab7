"""The project: its folders, where its package and lock go, and the clock a build runs at."""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from generator import memory
from generator.diagnostics import DeckError
from generator.lock import LOCK_NAME
from generator.model import Note, nfc


@dataclass(frozen=True)
class Project:
    root: Path
    source: Path
    media: Path
    output: Path | None  # None: build/<name>.apkg

    @property
    def lock_path(self) -> Path:
        return self.source / LOCK_NAME

    @property
    def memory_path(self) -> Path:
        return memory.location(self.root, self.source)

    @property
    def build_dir(self) -> Path:
        return self.root / "build"


def load_project(source: str | None = None, media: str | None = None,
                 output: str | None = None, cwd: Path | None = None) -> Project:
    cwd = (cwd or Path.cwd()).resolve()
    source_dir = (cwd / (source or "source")).resolve()
    if not source_dir.is_dir():
        raise DeckError(f"source folder '{source or 'source'}' not found; run in a project "
                        "with a 'source/' folder or pass --source DIR")
    root = cwd if source_dir == cwd or cwd in source_dir.parents else source_dir.parent
    target = (cwd / output).resolve() if output else None
    if target is not None and (target.suffix.lower() == ".md" or source_dir in target.parents):
        raise DeckError(f"refusing to write the package to '{output}': it would overwrite or "
                        "sit among the sources; write it under 'build/'")
    return Project(root=root, source=source_dir, media=(cwd / (media or "media")).resolve(),
                   output=target)


def build_time() -> int:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(epoch) if epoch.isdigit() else int(time.time())


PACKAGE_NAME_CHARS = 100  # far below the 255 bytes of a file name, temporary names included


def default_output(project: Project, notes: tuple[Note, ...]) -> Path:
    """build/<the top deck's name>.apkg, or the project folder's name for several decks."""
    tops = sorted({n.card.deck.split("::")[0] for n in notes})
    name = tops[0] if len(tops) == 1 else nfc(project.root.name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "deck"
    if len(slug) > PACKAGE_NAME_CHARS:  # a long title: a readable start, and its own hash
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug[: PACKAGE_NAME_CHARS - 9].rstrip('-')}-{digest}"
    return project.build_dir / f"{slug}.apkg"


def shown(path: Path) -> str:
    """A path as the user's terminal names it: relative to the current folder."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
