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
import re
from dataclasses import dataclass
from pathlib import Path

from generator import identity, lock as lockfile
from generator.diagnostics import DeckError, Diagnostic, short
from generator.model import Lock, LockEntry, SourcePos

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
    from generator import atomic

    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        # never versioned, even where build/ is: a `git revert` must not revert it too
        atomic.write_quietly(ignore, "# this machine's memory of the last lock it wrote\n*\n")
    atomic.write_quietly(path, text)


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
    before = identity.assign(cards, remembered, now, project=assignment.project)
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


# --- which lock to build with ---------------------------------------------------------

@dataclass(frozen=True)
class LockChoice:
    """What to do with the lock in the source folder (the build options of the same name)."""

    reset: bool = False  # ignore it: every card gets a new identity, or its derived one
    restore: bool = False  # merge in the copy of the last lock this machine wrote
    accept: bool = False  # use it even when it looks older than, or foreign to, that copy


@dataclass(frozen=True)
class LockState:
    """The lock to build with, and this machine's memory of the last one it wrote."""

    lock: Lock
    project: str
    remembered: Lock | None  # None: no memory, or it says what the lock says
    mirrored: bool  # the memory is the lock as read (the usual case)
    diagnostics: tuple[Diagnostic, ...] = ()
    missing: bool = False  # no lock, though this machine built these sources with one
    checked: bool = True  # whether to compare the lock with the memory

    @property
    def emitted(self) -> dict[str, LockEntry] | None:
        """What this machine last packaged, when the lock says otherwise."""
        return None if self.remembered is None else {e.guid: e for e in
                                                     self.remembered.notes}

    def check(self, cards, now: int, assignment) -> list[Diagnostic]:
        """Stop before an older, missing or foreign lock gives identities away."""
        if self.missing and self.remembered is not None:
            return [missing(self.remembered)]
        if not self.checked:
            return []
        found = foreign(self.lock, self.remembered, assignment)
        if found is None and self.remembered is not None:
            found = lost(cards, self.lock, self.remembered, now, assignment)
        return [found] if found is not None else []


def read_lock(lock_path: Path, memory_path: Path, choice: LockChoice) -> LockState:
    remembered_text = recall(memory_path)
    text = None
    try:
        text = lockfile.read_text(lock_path)
        lock = None if text is None else lockfile.parse(text)
    except lockfile.LockError as error:
        if not (choice.reset or choice.restore):
            kept = ("; this machine kept a copy of the last lock it wrote: --restore-lock "
                    "takes it back" if parse(remembered_text) is not None else "")
            return LockState(Lock(), "", None, False, (Diagnostic(
                SourcePos(lockfile.LOCK_NAME, error.line, error.col), "E901",
                error.message + kept),), checked=False)
        lock = None
    # the usual case: the lock is what this machine last wrote, and that says it all
    same = lock is not None and text == remembered_text
    remembered = None if same else parse(remembered_text)
    if choice.reset:  # new identities, but derived as before where a project value is known
        project_id = remembered.project if remembered is not None else \
            lock.project if lock is not None and same else ""
        return LockState(Lock(project=project_id), project_id, remembered, False,
                          checked=False)
    found: tuple[Diagnostic, ...] = ()
    if lock is not None and lock.reconciled:
        found = (Diagnostic(SourcePos(lockfile.LOCK_NAME, 1), "W905", lock.reconciled),)
    if choice.restore:
        if remembered is None and lock is not None:
            return LockState(lock, lock.project, None, same, found, checked=False)
        if remembered is None:
            raise DeckError("there is no copy of a lock in 'build/' to restore: this machine "
                            "has not built these sources before; restore the lock from git")
        # another project's lock is put aside, not merged in
        keep = lock is not None and not another_project(lock, remembered)
        merged = lockfile.merge(remembered, lock) if lock is not None and keep else \
            lockfile.merge(remembered)
        return LockState(merged, remembered.project, remembered, False,
                          found if keep else (), checked=False)
    if lock is None:
        had_cards = remembered is not None and any(not e.removed for e in remembered.notes)
        return LockState(Lock(), remembered.project if remembered else "", remembered,
                          False, missing=had_cards and not choice.accept,
                          checked=False)
    return LockState(lock, lock.project or (remembered.project if remembered else ""),
                      remembered, same, found, checked=not choice.accept)
