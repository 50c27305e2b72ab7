"""`deck ids`: write each card's GUID under its heading as `<!-- id: ... -->`.

Only lines are inserted; every other byte of the file stays as it was (BOM, line endings,
trailing spaces), so `git diff` shows exactly the new lines.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator import atomic

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


def split_lines(text: str) -> list[str]:
    """Lines with their own endings, splitting exactly where the parser does."""
    lines = _LINE.findall(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def pin_text(text: str, pins: list[tuple[int, str]]) -> str:
    """Insert `<!-- id: GUID -->` before each 1-based line number in `pins`."""
    lines = split_lines(text)
    ending = _dominant_ending(lines)
    for line, guid in sorted(pins, reverse=True):
        index = line - 1
        comment = f"<!-- id: {guid} -->"
        if index >= len(lines):
            # the heading is the file's last line: end it, and leave the new line unended
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += ending
                lines.append(comment)
            else:
                lines.append(comment + ending)
        else:  # the heading's own line ending, so a CRLF file stays CRLF
            lines.insert(index, comment + _ending_of(lines[index - 1], ending))
    return "".join(lines)


def _ending_of(line: str, default: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if line.endswith(ending):
            return ending
    return default


def _dominant_ending(lines: list[str]) -> str:
    counts = {e: sum(line.endswith(e) for line in lines) for e in ("\r\n", "\n", "\r")}
    counts["\n"] -= counts["\r\n"]
    return max(counts, key=lambda e: (counts[e], e == "\n"))


def unpinned(notes) -> dict[str, list[tuple[int, str]]]:
    """Per source file, the line under each heading without an explicit id, and the GUID
    its card already has (pinning must never change a note's identity)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for note in notes:
        if note.card.explicit_id is None:
            found.setdefault(note.card.pos.path, []).append((note.card.meta_line, note.guid))
    return found


def pin_all(source: Path, notes) -> tuple[int, int]:
    """`deck ids`: write every unpinned card's GUID into its file; (cards, files) pinned.
    Files are rewritten one by one, each whole: a failure names the file, and the files
    before it keep their pins (running the command again pins the rest)."""
    from generator.diagnostics import DeckError

    found = unpinned(notes)
    for rel, pins in sorted(found.items()):
        try:
            write_pins(source / rel, pins)
        except OSError as error:
            raise DeckError(f"cannot write '{rel}': {error.strerror or error}") from None
    return sum(len(pins) for pins in found.values()), len(found)


def write_pins(path: Path, pins: list[tuple[int, str]]) -> None:
    """Rewrite `path` atomically with the pins inserted, keeping a UTF-8 BOM and its mode
    (and a symbolic link: the file it points to is the one rewritten)."""
    path = path.resolve()
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    out = ("\ufeff" if bom else "") + pin_text(text, pins)
    atomic.write(path, out.encode("utf-8"), keep_mode=True)
