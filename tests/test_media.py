"""What a card may pack: files inside the project only, media files only (judged by their
content), `<img src>` in raw HTML as well as `![](src)`, and messages that quote the src as
the source has it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator import build
from tests.conftest import make_project
from tests.test_check import PNG

NOW = 1_800_000_000


def findings(root: Path, **where: str) -> list[str]:
    """`deck check` run in `root` (`where`: the --source and --media options)."""
    project = build.load_project(cwd=root, **where)
    return [str(d) for d in build.compile_project(project, NOW).diagnostics]


def packed(root: Path) -> dict[str, str]:
    """stored name -> the file it was read from, relative to `root`."""
    compiled = build.compile_project(build.load_project(cwd=root), NOW)
    return {m.name: Path(m.source).relative_to(root).as_posix() for m in compiled.media}


def stored(name: str, data: bytes) -> str:
    stem, ext = name.rsplit(".", 1)
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.{ext}"


def test_the_project_is_the_boundary_wherever_the_build_starts(tmp_path):
    """`deck check --source decks/x/source` from a parent folder used to take that folder
    for the project, and pack `../../../.ssh/key.png`."""
    home = tmp_path / "home"
    project = home / "decks" / "x"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "key.png").write_bytes(PNG)  # a real PNG: only the boundary stops it
    (project / "img").mkdir(parents=True)
    (project / "img" / "ok.png").write_bytes(PNG)  # beside the source folder: inside
    (project / "media").mkdir()
    (project / "source").mkdir()
    (project / "source" / "a.md").write_text(
        "## q\n\n![](../../../.ssh/key.png)\n\n## r\n\n<img src=\"../img/ok.png\">\n")
    expected = ["a.md:3:1: E402 image '../../../.ssh/key.png' is outside the project; "
                "move it under 'media/'"]
    assert findings(home, source="decks/x/source", media="decks/x/media") == expected
    assert findings(project) == expected
    assert findings(project / "source", source=".", media="../media") == expected


@pytest.mark.parametrize("name, data", [
    (".env", b"API_TOKEN=s3cret\n"),
    ("id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\n"),
    ("build.py", b"print('hello')\n"),
    ("notes.txt", b"some notes\n"),
    ("table.bin", bytes(range(256))),
])
def test_a_file_that_is_not_media_is_E406_in_markdown_and_in_html(tmp_path, name, data):
    root = make_project(tmp_path, {"a.md": f"## q\n\n![]({name})\n\n## r\n\n"
                                           f"<img src=\"{name}\" width=\"30\">\n"},
                        {f"media/{name}": data})
    message = (f"E406 image '{name}' is not an image, audio or video file; only media "
               "files go into the package")
    assert findings(root) == [f"a.md:3:1: {message}", f"a.md:7:1: {message}"]


# A real file's first bytes, and a text named like it
FORMATS = [
    ("clip.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "an MP3 audio file"),
    ("frame.mp3", b"\xff\xfb\x90\x64" + bytes(60), "an MP3 audio file"),
    ("clip.ogg", b"OggS\x00\x02" + bytes(20), "an Ogg audio file"),
    ("clip.wav", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00", "a WAV audio file"),
    ("clip.flac", b"fLaC\x00\x00\x00\x22", "a FLAC audio file"),
    ("clip.m4a", b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", "an M4A audio file"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41", "an MP4 video"),
    ("old.mov", b"\x00\x00\x00\x08wide\x00\x00\x00\x08mdat", "a QuickTime video"),
    ("clip.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "a WebM video"),
    ("photo.avif", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "an AVIF image"),
    ("icon.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
     "an SVG image"),
]


@pytest.mark.parametrize("name, data, what", FORMATS, ids=[f[0] for f in FORMATS])
def test_media_is_told_by_its_content_a_text_under_its_name_is_E405(tmp_path, name, data,
                                                                     what):
    fake = "fake." + name.rsplit(".", 1)[1]
    text = b"a note on <svg> elements\n" if fake.endswith(".svg") else b"just text\n"
    root = make_project(tmp_path, {"a.md": f"## q\n\n![]({name})\n\n![]({fake})\n"},
                        {f"media/{name}": data, f"media/{fake}": text})
    assert findings(root) == [f"a.md:5:1: E405 image '{fake}' is not {what} (its content "
                              "does not match its name)"]
    assert packed(root) == {stored(name, data): f"media/{name}"}


def test_media_under_a_name_without_its_extension_is_E405(tmp_path):
    root = make_project(tmp_path, {"a.md": "## q\n\n![](diagram)\n"}, {"media/diagram": PNG})
    assert findings(root) == ["a.md:3:1: E405 image 'diagram' is a PNG image without the "
                              "'.png' extension; rename it so every device knows how to "
                              "show it"]


def test_an_html_src_is_read_as_a_browser_reads_it_and_quoted_as_written(tmp_path):
    root = make_project(tmp_path, {"a.md": "## q\n\n<img src=\"R&amp;D.png\">\n"
                                           "<img src='gone&amp;lost.png'>\n"},
                        {"media/R&D.png": PNG})
    assert findings(root) == ["a.md:4:1: E401 image 'gone&amp;lost.png' not found (looked in "
                              "'source' and 'media')"]
    assert packed(root) == {stored("R-D.png", PNG): "media/R&D.png"}
