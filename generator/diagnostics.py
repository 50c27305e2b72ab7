"""Findings about the sources, the library's errors, and how both are printed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Mapping

from generator.model import SourcePos, by_constructor


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One code of the table. `owner`: the module under generator/ that emits it (a test
    holds the table to the sources, so a rule that moves must take its owner along)."""

    code: str
    severity: Severity
    summary: str
    owner: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

# Codes by family: E1 cards, E2 math, W3 code, E4 media, E5 source files, E6 cloze,
# E7 raw HTML, E8 note types and decks, E9 the lock. The severity is the table's; the
# letter (E error, W warning, I hint) only names it, for the reader of a code.
CODES: Mapping[str, Finding] = MappingProxyType({f.code: f for f in (
    Finding("E101", _E, "card has no front", "parse"),
    Finding("E102", _E, "card has no back", "parse"),
    Finding("E103", _E, "duplicate front in a deck", "identity"),
    Finding("E104", _E, "duplicate explicit id", "identity"),
    Finding("E105", _E, "invalid card metadata comment", "parse"),
    Finding("E106", _E, "invalid front matter", "parse"),
    Finding("E107", _E, "cloze card without a cloze", "parse"),
    Finding("W108", _W, "file has no cards", "pool"),
    Finding("E108", _E, "no cards at all", "check"),
    Finding("E109", _E, "front renders empty", "check"),
    Finding("W109", _W, "back renders empty", "check"),
    Finding("W110", _W, "metadata comment away from its heading", "parse"),
    Finding("W111", _W, "a new pinned id takes a card's identity away", "identity"),
    Finding("E111", _E, "a construct left open hides the cards below it", "parse"),
    Finding("W112", _W, "text outside any card", "parse"),
    Finding("W113", _W, "a setext heading starts a card", "parse"),
    Finding("E114", _E, "nesting too deep to read", "parse"),
    Finding("E201", _E, "formula never closed", "formulas"),
    Finding("E202", _E, "empty formula", "formulas"),
    Finding("W203", _W, "formula the preview cannot render", "preview"),
    Finding("W204", _W, "'$ ... $' that is no formula because of its spaces", "formulas"),
    Finding("W301", _W, "unknown code language", "markdown"),
    Finding("E401", _E, "media file not found or unreadable", "media"),
    Finding("E402", _E, "media path leaves the project", "media"),
    Finding("E403", _E, "media name differs in case", "media"),
    Finding("W404", _W, "media format unsupported on phones", "render"),
    Finding("E405", _E, "media file is not what its name says", "media"),
    Finding("E406", _E, "not an image, audio or video file", "media"),
    Finding("W407", _W, "remote image: needs a network at every review", "render"),
    Finding("E501", _E, "source file cannot be read", "discover"),
    Finding("E502", _E, "source file is not UTF-8 text", "discover"),
    Finding("E503", _E, "source file too large", "discover"),
    Finding("E505", _E, "folder named like a source file", "discover"),
    Finding("W506", _W, "symbolic link to a folder already read", "discover"),
    Finding("E601", _E, "'}}' ends a cloze early", "check"),
    Finding("W602", _W, "cloze numbers skip", "check"),
    Finding("W603", _W, "'::' starts a cloze hint", "check"),
    Finding("E604", _E, "invalid cloze", "check"),
    Finding("W701", _W, "HTML that Anki strips", "check"),
    Finding("E702", _E, "unclosed HTML tag", "check"),
    Finding("W703", _W, "stray closing HTML tag", "check"),
    Finding("E801", _E, "note type changed shape", "check"),
    Finding("W802", _W, "deck changed since the lock", "pending"),
    Finding("W803", _W, "note removed since the lock", "pending"),
    Finding("E804", _E, "card type changed under a pinned id", "identity"),
    Finding("W804", _W, "card type changed: a new note", "pending"),
    Finding("W805", _W, "cloze number taken out: an empty card", "pending"),
    Finding("E806", _E, "deck names that differ only in letter case", "check"),
    Finding("E901", _E, "lock file unreadable", "memory"),
    Finding("E902", _E, "lock missing", "memory"),
    Finding("E903", _E, "lock of another project", "memory"),
    Finding("E904", _E, "lock older than the last build", "memory"),
    Finding("W905", _W, "lock merged by git: reconciled", "memory"),
    Finding("I001", _I, "card has no pinned id", "report"),
)})


@by_constructor
@dataclass(frozen=True, order=True, slots=True)
class Diagnostic:
    pos: SourcePos
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:  # every rule's code is in the table, or it is a bug
            raise ValueError(f"finding code {self.code!r} is not in diagnostics.CODES")

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    def __str__(self) -> str:
        return f"{self.pos}: {self.code} {self.message}"


def matching(value: str) -> tuple[str, ...]:
    """The codes a `--select` or `--ignore` value names: the code itself, or every code it
    starts (`W3`, `W`), as in flake8."""
    return tuple(code for code in CODES if code.startswith(value))


def chosen(diagnostics, select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()
           ) -> tuple[Diagnostic, ...]:
    """The findings `--select` and `--ignore` keep. No `select` selects every code; when
    both name a code, the longer value wins (`--select W --ignore W301`), `ignore` on a tie."""
    def kept(code: str) -> bool:
        picked = max((len(v) for v in select if code.startswith(v)),
                     default=-1 if select else 0)
        dropped = max((len(v) for v in ignore if code.startswith(v)), default=-1)
        return picked > dropped

    return tuple(d for d in diagnostics if kept(d.code))


def short(text: str, limit: int = 60) -> str:
    """A user's text on one line, cut to fit a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_count(diagnostics) -> int:
    return sum(d.severity is Severity.ERROR for d in diagnostics)


def has_errors(diagnostics) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


class DeckError(Exception):
    """An environment or usage failure: the build cannot start or cannot write."""


class BuildFailed(DeckError):
    """The sources have errors; nothing was written. `source`: the folder their paths are
    relative to."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...], source=None):
        super().__init__(f"{error_count(diagnostics)} error(s)")
        self.diagnostics, self.source = diagnostics, source


def shown_path(path: str, source) -> str:
    """A finding's path as the user's terminal and editor resolve it: relative to the
    current folder (as compilers print theirs), `/`-separated."""
    if source is None:
        return path
    import os

    full = os.path.join(source, path)
    try:
        rel = os.path.relpath(full)
    except ValueError:  # another drive, on Windows
        return full
    return rel.replace(os.sep, "/")


def located(d: Diagnostic, source) -> str:
    pos = d.pos
    return f"{shown_path(pos.path, source)}:{pos.line}:{pos.col}: {d.code} {d.message}"


class Interrupted(DeckError):
    """Ctrl-C after something was already written: the message says what."""
