"""Findings about the sources, the library's errors, and how both are printed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from generator.model import SourcePos, by_constructor


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


# Codes by family: E1 cards, E2 math, W3 code, E4 media, E5 source files, E6 cloze,
# E7 raw HTML, E8 note types and decks, E9 the lock. W is a warning, I a hint.
CODES: dict[str, str] = {
    "E101": "card has no front",
    "E102": "card has no back",
    "E103": "duplicate front in a deck",
    "E104": "duplicate explicit id",
    "E105": "invalid card metadata comment",
    "E106": "invalid front matter",
    "E107": "cloze card without a cloze",
    "W108": "file has no cards",
    "E108": "no cards at all",
    "E109": "front renders empty",
    "W109": "back renders empty",
    "W110": "metadata comment away from its heading",
    "W111": "a new pinned id takes a card's identity away",
    "E111": "a construct left open hides the cards below it",
    "W112": "text outside any card",
    "W113": "a setext heading starts a card",
    "E114": "nesting too deep to read",
    "E201": "formula never closed",
    "E202": "empty formula",
    "W203": "formula the preview cannot render",
    "W204": "'$ ... $' that is no formula because of its spaces",
    "W301": "unknown code language",
    "E401": "media file not found or unreadable",
    "E402": "media path leaves the project",
    "E403": "media name differs in case",
    "W404": "media format unsupported on phones",
    "E405": "media file is not what its name says",
    "E406": "not an image, audio or video file",
    "W407": "remote image: needs a network at every review",
    "E501": "source file cannot be read",
    "E502": "source file is not UTF-8 text",
    "E503": "source file too large",
    "E505": "folder named like a source file",
    "W506": "symbolic link to a folder already read",
    "E601": "'}}' ends a cloze early",
    "W602": "cloze numbers skip",
    "W603": "'::' starts a cloze hint",
    "E604": "invalid cloze",
    "W701": "HTML that Anki strips",
    "E702": "unclosed HTML tag",
    "W703": "stray closing HTML tag",
    "E801": "note type changed shape",
    "W802": "deck changed since the lock",
    "W803": "note removed since the lock",
    "E804": "card type changed under a pinned id",
    "W804": "card type changed: a new note",
    "W805": "cloze number taken out: an empty card",
    "E806": "deck names that differ only in letter case",
    "E901": "lock file unreadable",
    "E902": "lock missing",
    "E903": "lock of another project",
    "E904": "lock older than the last build",
    "W905": "lock merged by git: reconciled",
    "I001": "card has no pinned id",
}


@by_constructor
@dataclass(frozen=True, order=True, slots=True)
class Diagnostic:
    pos: SourcePos
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return Severity.ERROR if self.code.startswith("E") else Severity.WARNING

    def __str__(self) -> str:
        return f"{self.pos}: {self.code} {self.message}"


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
