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
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from generator.model import MediaFile, by_constructor, nfc

_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, data:, ...
_REMOTE = re.compile(r"^(?:https?:|//)", re.I)


def remote(src: str) -> bool:
    """Whether `src` is fetched from the network each time a card shows it."""
    return bool(_REMOTE.match(src))


# What AnkiMobile (Safari's WebKit) and AnkiDroid (Android's WebView) cannot show.
UNSUPPORTED = {".heic", ".heif", ".tif", ".tiff", ".psd", ".raw", ".cr2", ".nef", ".dng",
               ".eps", ".ai", ".xcf"}


def unsupported_format(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    if suffix in UNSUPPORTED:
        return (f"'{suffix[1:]}' images do not show on AnkiMobile or AnkiDroid; "
                "convert it to PNG or JPEG")
    return None


def _starts(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda data: data.startswith(magic)


def _riff(form: bytes) -> Callable[[bytes], bool]:
    return lambda data: data[:4] == b"RIFF" and data[8:12] == form


def _box(*kinds: bytes, brands: tuple[bytes, ...] = ()) -> Callable[[bytes], bool]:
    """An ISO media file (MP4, M4A, QuickTime, HEIC, AVIF) opening with a box of `kinds`,
    its `ftyp` naming one of `brands`. Any other box must fit in the file: a text that
    says 'free' at its fifth byte never does."""
    def check(data: bytes) -> bool:
        size, kind = int.from_bytes(data[:4], "big"), data[4:8]
        if kind not in kinds or size < 8 or (kind != b"ftyp" and size > len(data)):
            return False
        return not brands or any(data[i:i + 4] in brands for i in range(8, size - 3, 4))
    return check


def _mpeg_audio(layer_known: bool) -> Callable[[bytes], bool]:
    """An ID3 tag or an MPEG audio frame: MP3 (a layer) or AAC's ADTS (layer bits 00)."""
    return lambda data: data.startswith(b"ID3") or (
        len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0
        and bool(data[1] & 0x06) == layer_known)


def _svg(data: bytes) -> bool:
    # XML text: a declaration, comment or doctype may come before the element
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<svg" in data[:4096]


_TIFF = _starts(b"II*\0", b"MM\0*", b"IIU\0", b"IIRO", b"IIRS")  # camera raws are TIFFs
_ISO = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")  # QuickTime may skip ftyp
_OGG = _starts(b"OggS")
# What a card can show or Anki can play (the files Anki's editor accepts, and the images
# W404 names), by extension: what the file is, and how its content begins. The first
# match names a file whose extension is not here.
FORMATS: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".png": ("a PNG image", _starts(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("a JPEG image", _starts(b"\xff\xd8\xff")),
    ".jpeg": ("a JPEG image", _starts(b"\xff\xd8\xff")),
    ".gif": ("a GIF image", _starts(b"GIF87a", b"GIF89a")),
    ".webp": ("a WEBP image", _riff(b"WEBP")),
    ".avif": ("an AVIF image", _box(b"ftyp", brands=(b"avif", b"avis"))),
    ".svg": ("an SVG image", _svg),
    ".bmp": ("a BMP image", _starts(b"BM")),
    ".ico": ("an ICO image", _starts(b"\x00\x00\x01\x00")),
    ".heic": ("a HEIC image", _box(b"ftyp", brands=(b"heic", b"heix", b"mif1", b"msf1"))),
    ".heif": ("a HEIF image", _box(b"ftyp", brands=(b"heic", b"heix", b"mif1", b"msf1"))),
    ".tif": ("a TIFF image", _TIFF), ".tiff": ("a TIFF image", _TIFF),
    ".dng": ("a DNG image", _TIFF), ".cr2": ("a CR2 image", _TIFF),
    ".nef": ("a NEF image", _TIFF), ".raw": ("a camera RAW image", _TIFF),
    ".psd": ("a PSD image", _starts(b"8BPS")),
    ".eps": ("an EPS image", _starts(b"%!PS", b"\xc5\xd0\xd3\xc6")),
    ".ai": ("an Illustrator image", _starts(b"%PDF", b"%!PS")),
    ".xcf": ("a GIMP image", _starts(b"gimp xcf")),
    ".mp3": ("an MP3 audio file", _mpeg_audio(layer_known=True)),
    ".aac": ("an AAC audio file", _mpeg_audio(layer_known=False)),
    ".m4a": ("an M4A audio file", _box(*_ISO)),
    ".wav": ("a WAV audio file", _riff(b"WAVE")),
    ".flac": ("a FLAC audio file", _starts(b"fLaC", b"ID3")),
    ".ogg": ("an Ogg audio file", _OGG), ".oga": ("an Ogg audio file", _OGG),
    ".opus": ("an Opus audio file", _OGG), ".spx": ("a Speex audio file", _OGG),
    ".mp4": ("an MP4 video", _box(*_ISO)), ".m4v": ("an MP4 video", _box(*_ISO)),
    ".mov": ("a QuickTime video", _box(*_ISO)), ".3gp": ("a 3GP video", _box(*_ISO)),
    ".webm": ("a WebM video", _starts(b"\x1a\x45\xdf\xa3")),
    ".mkv": ("a Matroska video", _starts(b"\x1a\x45\xdf\xa3")),
    ".ogv": ("an Ogg video", _OGG), ".ogx": ("an Ogg file", _OGG),
    ".avi": ("an AVI video", _riff(b"AVI ")),
    ".mpg": ("an MPEG video", _starts(b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
    ".mpeg": ("an MPEG video", _starts(b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
    ".flv": ("a Flash video", _starts(b"FLV\x01")),
    ".swf": ("a Flash file", _starts(b"FWS", b"CWS", b"ZWS")),
}


def _content_problem(path: Path, data: bytes) -> tuple[str, str] | None:
    """E405 when the content is not what the name says, E406 when it is no media at all:
    whatever a card names goes into every device's media folder (a key, a `.env`)."""
    if not data:
        return "E405", "is an empty file"
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        what, check = FORMATS[suffix]
        if check(data):
            return None
        return "E405", f"is not {what} (its content does not match its name)"
    actual = next((ext for ext, (_, check) in FORMATS.items() if check(data)), None)
    if actual is not None:
        return "E405", (f"is {FORMATS[actual][0]} without the '{actual}' extension; rename "
                        "it so every device knows how to show it")
    return "E406", ("is not an image, audio or video file; only media files go into the "
                    "package")


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
        self.project_dir = project_dir.resolve()  # where messages name folders from
        # what a card may show: the project (the source folder's parent) and the media
        # folder, wherever the build was started from
        self.allowed = (self.source_dir.parent, self.media_dir)
        self._hashed: dict[Path, MediaFile] = {}
        self._listed: dict[Path, frozenset[str]] = {}
        self._resolved: dict[tuple[str, str, str], tuple] = {}
        self.consulted: dict[Probe, object] = {}  # what was seen, for the cache

    def track(self) -> dict[Probe, object]:
        """Start recording the files and folders later resolutions depend on."""
        self.consulted = {}
        return self.consulted

    def resolve(self, markdown_path: str, src: str, written: str | None = None
                ) -> MediaFile | None:
        """The file behind `src` in `markdown_path` (relative to the source folder), or
        None for a URL. Raises MediaError for a missing file, one outside the project or
        one that is no media; its message quotes `written` (`src` as the source has it)."""
        written = src if written is None else written
        # the same picture in many cards of a folder is looked up once per build
        memo = (markdown_path.rpartition("/")[0], src, written)
        if memo not in self._resolved:
            outer, self.consulted = self.consulted, {}
            try:
                self._resolved[memo] = (self._resolve(markdown_path, src, written), None,
                                        self.consulted)
            except MediaError as failed:
                self._resolved[memo] = (None, failed, self.consulted)
            finally:
                self.consulted = outer
        found, error, consulted = self._resolved[memo]
        self.consulted.update(consulted)
        if error is not None:
            raise MediaError(error.code, error.message)
        return found

    def _resolve(self, markdown_path: str, src: str, written: str) -> MediaFile | None:
        if not src or _EXTERNAL.match(src) or src.startswith("//"):
            return None
        rel = unquote(src.split("#", 1)[0].split("?", 1)[0])
        if "\0" in rel:
            raise MediaError("E401", f"image '{written}' is not a file name (it holds a NUL "
                             "byte)")
        # relative to the Markdown file, as GitHub previews it; a bare name also in media/
        candidates = [self.source_dir / Path(markdown_path).parent / rel]
        if "/" not in rel:
            candidates.append(self.media_dir / rel)
        for candidate in candidates:
            # a symbolic link can be pointed elsewhere without its target changing
            links = Probe(Look.LINKS, str(candidate))
            self.consulted[links] = links.now()
            real = candidate.resolve()
            if not any(_inside(real, folder) for folder in self.allowed):
                raise MediaError("E402", f"image '{written}' is outside the project; "
                                 "move it under 'media/'")
            listed = self._listing(real.parent)
            self.consulted[Probe(Look.NAMES, str(real.parent), real.name.lower())] = \
                _same_name(listed, real.name)
            if real.name not in listed:
                # the same name in another Unicode form: the text is NFC, a file named on a
                # Mac may be NFD
                twin = next((n for n in listed if nfc(n) == nfc(real.name)), None)
                real = real.parent / twin if twin is not None else real
            found = Probe(Look.FILE, str(real))
            self.consulted[found] = found.now()
            if real.name not in listed:
                # a different case works on macOS and Windows, not on AnkiMobile or Linux
                same = [n for n in listed if n.lower() == real.name.lower()]
                if same:
                    folder = written.rpartition("/")[0] + "/" if "/" in written else ""
                    raise MediaError("E403", f"image '{written}' differs in case from the "
                                     f"file '{same[0]}'; names are case-sensitive on "
                                     f"AnkiMobile: did you mean '{folder}{same[0]}'?")
                continue
            if real.is_file():
                return self._hash(real, written)
        raise MediaError("E401", f"image '{written}' not found (looked in "
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

    def _hash(self, path: Path, written: str) -> MediaFile:
        found = self._hashed.get(path)
        if found is None:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise MediaError("E401", f"image '{written}' cannot be read: "
                                 f"{error.strerror or error}") from None
            problem = _content_problem(path, data)
            if problem:
                raise MediaError(problem[0], f"image '{written}' {problem[1]}")
            digest = hashlib.sha256(data).hexdigest()
            found = self._hashed[path] = MediaFile(str(path), stored_name(path, digest), digest)
        return found


class Look(IntEnum):
    FILE = 1  # a file's size, modification time, inode and status-change time
    NAMES = 2  # the names in a folder that equal a name but for case or Unicode form
    LINKS = 3  # where the symbolic links on a path point


@by_constructor
@dataclass(frozen=True, slots=True)
class Probe:
    """One thing a resolution depended on; `now()` says what it is at present, to compare
    with what it was when a card was rendered (the cache's validation)."""

    look: Look
    path: str
    name: str = ""  # NAMES: the name, lower case

    def now(self) -> object:
        if self.look is Look.LINKS:
            return _link(Path(self.path))
        if self.look is Look.NAMES:
            try:
                return _same_name(frozenset(os.listdir(self.path)), self.name)
            except OSError:
                return ()
        return signature(self.path)

    def __str__(self) -> str:
        return {Look.FILE: "'{}'", Look.NAMES: "the names like '{1}' in '{}'",
                Look.LINKS: "the links on the way to '{}'"}[self.look].format(self.path,
                                                                               self.name)


def signature(path: str) -> tuple | None:
    """A file's size, modification time, inode and status-change time (None when absent):
    `cp -p`, `rsync -a` and unzip keep a replaced file's size and modification time; the
    status-change time cannot be set back."""
    try:
        stat = os.stat(path)
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
