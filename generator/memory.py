"""What this machine last wrote for a source folder: the lock, kept as it was written under
`build/memory/` (generated, not versioned). It answers what the lock in git cannot:

- what this machine last packaged, note by note: content that differs from it gets a later
  time than it had (after `git revert` or `git stash`, the lock brings back older times,
  and Anki's "update if newer" would keep the text it has);
- which identities it handed out: a lock that is older than the last build, missing, or
  another project's is caught before a build gives those identities away.

A machine that never built these sources (a fresh clone) has no memory; the lock is then
taken as it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from generator import lock as lockfile
from generator.diagnostics import Diagnostic, short
from generator.model import Lock, SourcePos

_WAY_OUT = ("pass --restore-lock to take back what the copy this machine kept in 'build/' "
            "knows")


def location(root: Path, source: Path) -> Path:
    """Per source folder, named by its place in the project (so moving the project keeps
    it)."""
    try:
        rel = source.relative_to(root).as_posix()
    except ValueError:
        rel = source.as_posix()
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", rel).strip("-.")[:60] or "source"
    return root / "build" / "memory" / (
        f"{slug}-{hashlib.sha256(rel.encode()).hexdigest()[:8]}.lock")


def recall(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def remember(path: Path, text: str) -> None:
    """Best effort: without it, a later revert or lost lock is only caught less well."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            # never versioned, even where build/ is: a `git revert` must not revert it too
            ignore.write_text("# this machine's memory of the last lock it wrote\n*\n")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def parse(text: str | None) -> Lock | None:
    """The remembered lock; a damaged copy is as good as none."""
    if text is None:
        return None
    try:
        return lockfile.parse(text)
    except lockfile.LockError:
        return None


_AT = SourcePos(lockfile.LOCK_NAME, 1)


def missing(remembered: Lock) -> Diagnostic:
    live = sum(not e.removed for e in remembered.notes)
    return Diagnostic(_AT, "E902", (
        "the lock is missing, but this machine last built these sources with a lock of "
        f"{live} note{'' if live == 1 else 's'}; without it every card would become a new "
        f"note in Anki. Restore it from git ('git checkout -- {lockfile.LOCK_NAME}' in the "
        f"source folder), or {_WAY_OUT} (or pass --reset-lock to give every card a new "
        "identity)"))


def another_project(lock: Lock, remembered: Lock) -> bool:
    """Whether `lock` is not the project `remembered` was: another project value, and no
    GUID in common (projects salt their GUIDs, so only pinned ids could be shared)."""
    return bool(lock.project and remembered.project and lock.project != remembered.project
                and not {e.guid for e in lock.notes} & {e.guid for e in remembered.notes})


def foreign(lock: Lock, remembered: Lock | None, assignment) -> Diagnostic | None:
    """A lock copied from another project: its project value differs from the one this
    machine built with, or (with no memory) it describes none of these cards."""
    if remembered is not None and another_project(lock, remembered):
        return Diagnostic(_AT, "E903", (
            f"the lock belongs to another project (its project value '{lock.project}' is not "
            f"the '{remembered.project}' this machine last built these sources with); a "
            "copied lock would give these cards that project's notes. Restore this project's "
            f"lock from git, or {_WAY_OUT} (or pass --accept-lock if this lock is right)"))
    live = [e for e in lock.notes if not e.removed]
    if remembered is None and live and len(assignment.removed) == len(live) and \
            assignment.notes and not (
                {e.file for e in live} & {n.row.file for n in assignment.notes}):
        files = ", ".join(f"'{f}'" for f in sorted({e.file for e in live})[:3])
        return Diagnostic(_AT, "E903", (
            f"the lock describes {len(live)} card{'' if len(live) == 1 else 's'}, none in "
            f"these sources, from files that are not here ({files}): is it another "
            "project's lock? Restore this project's lock from git, or pass --reset-lock to "
            "give every card a new identity (or --accept-lock if this lock is right)"))
    return None


def lost(cards, lock: Lock, remembered: Lock, now: int, assignment) -> Diagnostic | None:
    """Cards this machine's last build gave an identity that the lock does not know: the
    lock is older than that build (restored from git, or from a backup). Only a card that
    build knew by its very front (or pinned id) counts, and only an identity no card has
    now: after switching branches, the other branch's cards and rewordings are no loss."""
    before = lockfile.assign(cards, remembered, now, project=assignment.project)
    used = {n.guid for n in assignment.notes}
    gone = [now_ for now_, then in zip(assignment.notes, before.notes)
            if now_.previous is None and then.previous is not None and then.guid not in used
            and (then.previous.front == then.keys.front or then.card.explicit_id == then.guid)]
    if not gone:
        return None
    first = gone[0]
    return Diagnostic(_AT, "E904", (
        f"the lock is older than this machine's last build: {len(gone)} card"
        f"{'' if len(gone) == 1 else 's'} would lose the identity that build gave "
        f"{'it' if len(gone) == 1 else 'them'} and become new notes in Anki (first: "
        f"'{short(first.keys.text)}' at {first.card.pos}). Restore the newer lock from "
        f"git, or {_WAY_OUT} (or pass --accept-lock to build with this lock as it is)"))
