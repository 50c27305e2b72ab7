"""Sorted source files, relative to the source folder and `/`-separated, and their text."""

from __future__ import annotations

import os
import re
from pathlib import Path

from generator.diagnostics import Diagnostic
from generator.model import SourcePos, nfc

MAX_BYTES = 10 * 1024 * 1024  # far above any hand-written deck; a bigger file is a mistake
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_CONTROL = bytes(b for b in range(256) if not _CONTROL.match(chr(b)))


def source_files(folder: Path) -> tuple[list[tuple[str, Path]], list[Diagnostic]]:
    """(relative path, path) of every `*.md` file, sorted; hidden names are skipped.

    Symlinked folders are followed once: a link back to a folder already read is reported,
    not walked forever.
    """
    found, diagnostics = [], []
    seen = {folder.resolve()}

    def walk(current: Path) -> None:
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as error:
            rel = current.relative_to(folder).as_posix()
            diagnostics.append(Diagnostic(SourcePos(rel or ".", 1), "E501",
                                          f"cannot read the folder: {error.strerror or error}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            rel = path.relative_to(folder).as_posix()
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name.endswith(".md"):
                    diagnostics.append(Diagnostic(SourcePos(rel, 1), "E505",
                                                  f"'{rel}' is a folder, not a Markdown file; "
                                                  "rename it"))
                    continue
                real = path.resolve()
                if real in seen:
                    diagnostics.append(Diagnostic(SourcePos(rel, 1), "W506",
                                                  f"symbolic link '{rel}' leads to a folder "
                                                  "already read (a loop or a second way in); "
                                                  "skipped"))
                    continue
                seen.add(real)
                walk(path)
            elif entry.name.endswith(".md"):
                found.append((rel, path))

    walk(folder)
    return sorted(found), diagnostics


def read_source(rel: str, path: Path) -> tuple[str | None, list[Diagnostic]]:
    """The file's text in NFC, with line endings made `\\n` and a UTF-8 BOM dropped, or
    findings."""
    def problem(code: str, message: str, line: int = 1, col: int = 1):
        return None, [Diagnostic(SourcePos(rel, line, col), code, message)]

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return problem("E503", f"file is {size / 2**20:.1f} MB; source files are limited "
                           f"to {MAX_BYTES // 2**20} MB: split it into several decks")
        data = path.read_bytes()
    except OSError as error:
        return problem("E501", f"cannot read the file: {error.strerror or error}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return problem("E502", "file is UTF-16; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[: error.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        last = before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")
        return problem("E501", "not valid UTF-8; save the file as UTF-8",
                       before.count(b"\n") + 1, len(last) + 1)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # the bytes first: a tenth of the time of searching the text, and control characters
    # are single bytes in UTF-8
    control = _CONTROL.search(text) if data.translate(None, _NOT_CONTROL) else None
    if control:
        # U+001F is Anki's field separator; the others are invisible paste accidents
        line = text.count("\n", 0, control.start()) + 1
        col = control.start() - (text.rfind("\n", 0, control.start()) + 1) + 1
        return problem("E502", f"control character U+{ord(control.group()):04X} in the text; "
                       "remove it (is this a binary file?)", line, col)
    # NFC, as Anki stores text: a file re-saved in NFD (macOS) keeps its cards' identities
    return nfc(text), []
