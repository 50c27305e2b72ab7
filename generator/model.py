"""The values that travel through the pipeline; all frozen."""

from __future__ import annotations

import functools
import os
import unicodedata
from dataclasses import dataclass
from enum import Enum, StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from generator.cache import FileResult
    from generator.diagnostics import Diagnostic
    from generator.pending import Step


def nfc(text: str) -> str:
    """`text` in Unicode NFC, as Anki stores note text: a file saved on a Mac (NFD) must give
    the same identities, decks and fields as the same file saved elsewhere."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


TEMPORARY_NAME_BYTES = 100


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary file made beside the file `name`, to be renamed onto it:
    `.name.`, with a long name cut to 100 bytes (its extension kept): tempfile adds 8
    characters and a suffix, and a file name is limited to 255 bytes."""
    data = os.fsencode(name)
    if len(data) > TEMPORARY_NAME_BYTES:
        ext = os.path.splitext(data)[1]
        ext = ext if len(ext) <= 16 else b""
        name = data[: TEMPORARY_NAME_BYTES - len(ext)].decode("utf-8", "ignore") + \
            ext.decode("utf-8", "ignore")
    return f".{name}."


def by_constructor(cls):
    """Pickle instances by calling the class: loading the cache is then 2.5x faster than
    restoring frozen slots one by one."""
    values = attrgetter(*cls.__slots__)
    if len(cls.__slots__) == 1:
        def reduce(self):
            return cls, (values(self),)
    else:
        def reduce(self):
            return cls, values(self)

    cls.__reduce__ = reduce
    return cls


@by_constructor
@dataclass(frozen=True, order=True, slots=True)
class SourcePos:
    """A place in a source file; `path` is relative to the source folder, `/`-separated."""

    path: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class Status(StrEnum):
    """A note against what this machine last packaged."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


class Kind(str, Enum):
    BASIC = "basic"
    REVERSED = "reversed"
    CLOZE = "cloze"


@by_constructor
@dataclass(frozen=True, slots=True)
class Card:
    """One card as written: Markdown text, no HTML yet."""

    pos: SourcePos
    deck: str
    kind: Kind
    front: str  # Markdown: the heading, plus what stands above a `?` line
    back: str  # Markdown
    tags: tuple[str, ...] = ()
    explicit_id: str | None = None
    back_line: int = 0  # first line of `back` in the file, for positions inside it
    front_line: int = 0  # first line of the front's text above a `?`, if any
    meta_line: int = 0  # the line right under the heading, where `<!-- id: -->` goes
    split_line: int = 0  # the line holding only `?`, if any


@by_constructor
@dataclass(frozen=True, slots=True)
class MediaFile:
    source: str  # absolute path on disk
    name: str  # content-hashed name inside the package
    sha256: str = ""  # of the bytes the name was made from: the bytes to pack


@by_constructor
@dataclass(frozen=True, slots=True)
class CardKeys:
    """What the lock compares, computed once where the card is rendered."""

    front: str  # hash of the front's Markdown
    back: str  # hash of the back's Markdown
    content: str  # hash of what Anki stores: note type, fields, tags
    text: str  # the front, whitespace collapsed


@by_constructor
@dataclass(frozen=True, slots=True)
class RenderedCard:
    card: Card
    fields: tuple[str, ...]  # in the note type's field order
    media: tuple[MediaFile, ...] = ()  # files the fields refer to
    raw_html: bool = False  # the Markdown holds HTML of its own (worth checking)
    keys: CardKeys | None = None


@by_constructor
@dataclass(frozen=True, slots=True)
class Note:
    """A rendered card with its identity decided."""

    guid: str
    rendered: RenderedCard
    mod: int  # seconds; the time its content last changed
    status: Status
    keys: CardKeys
    previous: "LockEntry | None" = None  # the lock entry it was matched to
    renamed_from: str | None = None  # old front, when matched by similarity
    row: "LockEntry | None" = None  # its row in the lock this build writes

    @property
    def card(self) -> Card:
        return self.rendered.card


@by_constructor
@dataclass(frozen=True, slots=True)
class LockEntry:
    """One row of the lock: a note's identity, what it held when last packaged, and what
    is still to be done for it in Anki (an import cannot delete, move or empty cards)."""

    guid: str
    file: str  # NFC
    deck: str
    front: str  # hash of the front
    back: str  # hash of the back
    content: str  # hash of the rendered note
    mod: int
    front_text: str = ""  # the front, whitespace collapsed: for messages and similarity
    kind: str = ""  # the card type (note type); "" in locks written before it was kept
    field: str = ""  # the first field exactly as packaged: an exact search in Anki's browser
    search: str = ""  # locks before `field`: some words of the first field
    removed: bool = False  # gone from the sources; kept so a card pasted back keeps its GUID
    after: str = ""  # the note this one stood in for while its question was being retyped
    was: tuple[str, ...] = ()  # earlier fronts (the first, then the latest): for rewording
    clozes: tuple[int, ...] = ()  # a cloze note's numbers, each one card in Anki
    delete: bool = False  # removed, and not yet deleted in Anki (a pending step)
    moved_from: str = ""  # the deck its cards still sit in, in Anki (a pending step)
    empty: tuple[int, ...] = ()  # cloze numbers whose cards Anki keeps empty (a pending step)
    kept: int = 0  # adopted: the id of the user's own note type it stays under (0: ours)
    extra: tuple[str, ...] = ()  # adopted: its fields beyond the front and back, verbatim


@by_constructor
@dataclass(frozen=True, slots=True)
class KeptType:
    """A note type of the user's, kept as the collection had it when its notes were adopted:
    a package carrying it unchanged (same id, fields, templates) updates those notes in
    place; under any other note type Anki would skip them as conflicting."""

    id: int
    name: str
    shape: str  # basic | reversed | optional | cloze
    data: str  # the note type as the collection held it (JSON, Anki's legacy form)
    mod: int  # its own time when adopted: never moved (an import must not replace it)
    hash: str = ""  # of `data`


@by_constructor
@dataclass(frozen=True, slots=True)
class Lock:
    id_base: int = 0  # milliseconds; note and card ids are counted from it
    notes: tuple[LockEntry, ...] = ()
    notetypes: tuple[tuple[int, str, int, str], ...] = ()  # (id, hash, mod, shape hash)
    project: str = ""  # random, made once: new GUIDs are unique to the project
    reconciled: str = ""  # what reading a merged (conflicted) lock did, if it was one
    lines: tuple[str, ...] = ()  # each note's line as read, when the file is as written
    kept: tuple[KeptType, ...] = ()  # the user's note types of adopted notes


@by_constructor
@dataclass(frozen=True, slots=True)
class Summary:
    decks: int
    new: int
    changed: int
    unchanged: int
    removed: tuple[LockEntry, ...]
    reworded: tuple[Note, ...]
    media: int
    output: str
    seconds: float = 0.0
    pending: tuple[str, ...] = ()  # the action of each step still to be done in Anki


class Warn(Protocol):
    def __call__(self, line: int, code: str, message: str, col: int = 1) -> None: ...


@dataclass(frozen=True)
class RenderEnv:
    """What this tool's markdown-it rules are told, kept under `env["deck"]` (markdown-it
    keeps keys of its own beside it)."""

    warn: Warn | None = None  # a finding; `line` 0-based in the text parsed
    # the stored name of an image (None: none to show); `written`: src as the source has it
    image: Callable[[str, int, str], str | None] | None = None
    cloze: bool = False  # the text is a cloze field
    math_checked: bool = False  # formulas were already checked when the file was parsed
    lines: Sequence[str] = ()  # the text's lines, for the columns of findings

    def markdown_env(self) -> dict[str, Any]:
        return {"deck": self}

    @staticmethod
    def of(env: Mapping[str, Any]) -> RenderEnv:
        found = env.get("deck")
        return found if isinstance(found, RenderEnv) else _NO_ENV


_NO_ENV = RenderEnv()


@dataclass(frozen=True)
class Compiled:
    """Everything a build would write, decided without writing anything."""

    notes: tuple[Note, ...]
    removed: tuple[LockEntry, ...]  # live in the lock, gone from the sources now
    media: tuple[MediaFile, ...]
    diagnostics: tuple[Diagnostic, ...]
    fresh: tuple[FileResult, ...]  # files rendered anew: cached once a build succeeds
    notetype_mods: dict[int, int]
    id_base: int
    css: str
    rows: tuple[LockEntry, ...]  # the lock's rows this build writes
    project: str  # the lock's project value
    hashes: dict[int, str]  # note type fingerprints
    shapes: dict[int, str]  # note type shapes (fields and templates)
    mirrored: bool = False  # this machine's memory was the lock as read
    read: Lock | None = None  # the lock as read: its unchanged rows keep their lines
    kept: tuple[KeptType, ...] = ()  # the user's note types of adopted notes, as packaged

    @functools.cached_property
    def lock_text(self) -> str:
        """The lock this build writes (rendered on demand: while the package compresses)."""
        from generator import lock as lockfile

        return lockfile.render_lock(self.rows, self.id_base, self.hashes,
                                    self.notetype_mods, self.shapes, self.project, self.read,
                                    kept=self.kept)

    @functools.cached_property
    def steps(self) -> tuple[Step, ...]:
        """What remains to be done in Anki once this build is imported."""
        from generator import pending

        return pending.steps(self.rows)
