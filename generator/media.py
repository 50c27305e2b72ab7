"""Media references: resolve a Markdown image path to a file and a content-hashed name.

Anki's media folder is flat and media sync ignores a changed file that keeps its name, so
every file is stored as `<ascii-stem>-<8 hex of its sha256><.ext>`: two different
`diagram.png` files both survive, and an edited image reaches every device.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from generator.model import MediaFile, nfc

_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, data:, ...


# What AnkiMobile (Safari's WebKit) and AnkiDroid (Android's WebView) cannot show.
UNSUPPORTED = {".heic", ".heif", ".tif", ".tiff", ".psd", ".raw", ".cr2", ".nef", ".dng",
               ".eps", ".ai", ".xcf"}
# The first bytes of the image formats a card can show, by extension.
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"), ".bmp": (b"BM",), ".ico": (b"\x00\x00\x01\x00",),
}


def unsupported_format(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    if suffix in UNSUPPORTED:
        return (f"'{suffix[1:]}' images do not show on AnkiMobile or AnkiDroid; "
                "convert it to PNG or JPEG")
    return None


def _content_problem(path: Path, data: bytes) -> str | None:
    if not data:
        return "is an empty file"
    suffix = path.suffix.lower()
    if suffix in _MAGIC and not data.startswith(_MAGIC[suffix]):
        return f"is not a {suffix[1:].upper()} image (its content does not match its name)"
    if suffix == ".webp" and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "is not a WEBP image (its content does not match its name)"
    if suffix == ".svg" and b"<svg" not in data[:4096]:
        return "is not an SVG image (no '<svg' element)"
    return None


class MediaError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def stored_name(path: Path, digest: str) -> str:
    """A short, ASCII, mobile-safe name that changes whenever the content does."""
    stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9.-]+", "-", stem).strip("-._")[:40].rstrip("-._") or "media"
    return f"{stem}-{digest[:8]}{path.suffix.lower()}"


class MediaResolver:
    """Finds referenced files; hashes each file once per build."""

    def __init__(self, source_dir: Path, media_dir: Path, project_dir: Path):
        self.source_dir = source_dir.resolve()
        self.media_dir = media_dir.resolve()
        self.project_dir = project_dir.resolve()
        self._hashed: dict[Path, MediaFile] = {}
        self._listed: dict[Path, frozenset[str]] = {}
        self._resolved: dict[tuple[str, str], tuple] = {}
        self.consulted: dict[str, tuple | None] = {}  # path -> signature, for the cache

    def track(self) -> dict[str, tuple | None]:
        """Start recording the files and folders later resolutions depend on."""
        self.consulted = {}
        return self.consulted

    def resolve(self, markdown_path: str, src: str) -> MediaFile | None:
        """The file behind `src` in `markdown_path` (relative to the source folder), or
        None for a URL. Raises MediaError for a missing file or one outside the project."""
        # the same picture in many cards of a folder is looked up once per build
        memo = (markdown_path.rpartition("/")[0], src)
        if memo not in self._resolved:
            outer, self.consulted = self.consulted, {}
            try:
                self._resolved[memo] = (self._resolve(markdown_path, src), None,
                                        self.consulted)
            except MediaError as error:
                self._resolved[memo] = (None, error, self.consulted)
            finally:
                self.consulted = outer
        found, error, consulted = self._resolved[memo]
        self.consulted.update(consulted)
        if error is not None:
            raise MediaError(error.code, error.message)
        return found

    def _resolve(self, markdown_path: str, src: str) -> MediaFile | None:
        if not src or _EXTERNAL.match(src) or src.startswith("//"):
            return None
        rel = unquote(src.split("#", 1)[0].split("?", 1)[0])
        if "\0" in rel:
            raise MediaError("E401", f"image '{src}' is not a file name (it holds a NUL byte)")
        # relative to the Markdown file, as GitHub previews it; a bare name also in media/
        candidates = [self.source_dir / Path(markdown_path).parent / rel]
        if "/" not in rel:
            candidates.append(self.media_dir / rel)
        for candidate in candidates:
            # a symbolic link can be pointed elsewhere without its target changing
            self.consulted[f"{candidate}\0link"] = _link(candidate)
            real = candidate.resolve()
            if not (_inside(real, self.project_dir) or _inside(real, self.media_dir)):
                raise MediaError("E402", f"image '{src}' is outside the project; "
                                 "move it under 'media/'")
            listed = self._listing(real.parent)
            self.consulted[f"{real.parent}\0{real.name.lower()}"] = _same_name(listed, real.name)
            if real.name not in listed:
                # the same name in another Unicode form: the text is NFC, a file named on a
                # Mac may be NFD
                twin = next((n for n in listed if nfc(n) == nfc(real.name)), None)
                real = real.parent / twin if twin is not None else real
            self.consulted[str(real)] = signature(str(real))
            if real.name not in listed:
                # a different case works on macOS and Windows, not on AnkiMobile or Linux
                same = [n for n in listed if n.lower() == real.name.lower()]
                if same:
                    raise MediaError("E403", f"image '{src}' differs in case from the file "
                                     f"'{same[0]}'; names are case-sensitive on AnkiMobile: "
                                     f"did you mean '{rel[: len(rel) - len(real.name)]}"
                                     f"{same[0]}'?")
                continue
            if real.is_file():
                return self._hash(real, src)
        raise MediaError("E401", f"image '{src}' not found (looked in "
                         + " and ".join(f"'{_show(c.parent, self.project_dir)}'"
                                        for c in candidates) + ")")

    def _listing(self, folder: Path) -> frozenset[str]:
        names = self._listed.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._listed[folder] = names
        return names

    def _hash(self, path: Path, src: str) -> MediaFile:
        found = self._hashed.get(path)
        if found is None:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise MediaError("E401", f"image '{src}' cannot be read: "
                                 f"{error.strerror or error}") from None
            problem = _content_problem(path, data)
            if problem:
                raise MediaError("E405", f"image '{src}' {problem}")
            digest = hashlib.sha256(data).hexdigest()
            found = self._hashed[path] = MediaFile(str(path), stored_name(path, digest), digest)
        return found


def signature(key: str) -> tuple | None:
    """What a resolution depended on, as it is now: a file's size, modification time, inode
    and status-change time (None when absent), or for `folder\0name`, the names in the folder
    that equal `name` but for case. `cp -p`, `rsync -a` and unzip keep a replaced file's
    size and modification time; the status-change time cannot be set back."""
    if key.endswith("\0link"):
        return _link(Path(key[:-5]))
    if "\0" in key:
        folder, name = key.split("\0", 1)
        try:
            return _same_name(frozenset(os.listdir(folder)), name)
        except OSError:
            return ()
    try:
        stat = os.stat(key)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns


def _link(path: Path) -> tuple | None:
    """Where a path's symbolic links point, part by part (None: no link on the way)."""
    targets = []
    for part in (path, *path.parents):
        if part.is_symlink():
            targets.append((str(part), os.readlink(part)))
    return tuple(targets) or None


def _same_name(listed: frozenset[str], name: str) -> tuple[str, ...]:
    """The names in a folder that are `name` but for case or Unicode form."""
    key = nfc(name).lower()
    return tuple(sorted(n for n in listed if nfc(n).lower() == key))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _show(path: Path, project: Path) -> str:
    try:
        return path.resolve().relative_to(project).as_posix() or "."
    except ValueError:
        return str(path)
