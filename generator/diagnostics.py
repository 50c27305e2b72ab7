"""Findings about the sources, the library's errors, and how both are printed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from generator.model import SourcePos


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


# Codes by family: E1 cards, E2 math, W3 code, E4 media, E5 source files, E9 the lock.
CODES: dict[str, str] = {
    "E101": "card has no front",
    "E102": "card has no back",
    "E103": "duplicate front",
    "E104": "duplicate explicit id",
    "E105": "invalid card metadata",
    "E106": "invalid front matter",
    "E107": "cloze card without a cloze",
    "W301": "unknown code language",
    "E401": "media file not found",
    "E402": "media path leaves the project",
    "E501": "source file cannot be read",
    "E901": "lock file cannot be read",
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    pos: SourcePos
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    def __str__(self) -> str:
        return f"{self.pos}: {self.code} {self.message}"


def has_errors(diagnostics) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


class DeckError(Exception):
    """An environment or usage failure: the build cannot start or cannot write."""


class BuildFailed(DeckError):
    """The sources have errors; nothing was written."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]):
        super().__init__(f"{sum(d.severity is Severity.ERROR for d in diagnostics)} error(s)")
        self.diagnostics = diagnostics
