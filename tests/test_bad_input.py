"""Bad input a new user might feed `deck`, through the real CLI entry point.

Every test first builds a good project (package and `source/deck.lock` exist), then
introduces one bad input and runs `deck build` (or `deck check`). Each test name says the
input. For the ones that must fail, nothing may be lost: the previous package, the lock and
the sources keep their bytes, and no temporary file (a name starting with '.') is left.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

import generator.lock
import generator.package
from generator.cli import main
from tests.conftest import PNG, ROOT, make_project

GOOD = "# Good\n\n## q1\n\na1\n"
ADD_Q2 = GOOD + "\n## q2\n\na2\n"  # same deck, so the build targets the same package
NOTHING_WRITTEN = "nothing was written"
RESTORE = ("restore it from git, or pass --reset-lock to rebuild it from the sources "
           "(reworded cards then get new identities)")
W108 = "no cards in this file; a card starts at a '## ' heading"
SUMMARY = re.compile(r"built (\S+): (\d+) decks?, (\d+) notes? \((\d+) new, (\d+) changed, "
                     r"(\d+) unchanged, (\d+) removed from sources\), (\d+) media files?, "
                     r"\d+\.\d\d s")


@pytest.fixture
def run(monkeypatch, capsys):
    def run(root, *args):
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
        monkeypatch.delenv("DECK_DEBUG", raising=False)
        code = main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert "internal error" not in out + err
        return code, out, err

    return run


@pytest.fixture
def good(tmp_path, run):
    """A project built once: `build/good.apkg` and `source/deck.lock` exist."""
    root = make_project(tmp_path, {"good.md": GOOD})
    code, out, err = run(root, "build")
    assert (code, err) == (0, "") and out.startswith("built build/good.apkg: 1 deck, 1 note")
    assert (root / "build" / "good.apkg").is_file()
    assert (root / "source" / "deck.lock").is_file()
    return root


def snapshot(root: Path) -> dict[str, object]:
    """Every path under `root` with its bytes (a symlink with its target; not followed)."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("symlink", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("folder",)
            else:
                found[rel] = path.read_bytes()
    return found


def hidden(root: Path) -> list[str]:
    """Temporary files left in the output folder or the source folder."""
    return sorted(p.name for folder in (root / "build", root / "source") if folder.is_dir()
                  for p in folder.iterdir() if p.name.startswith("."))


def fails_and_loses_nothing(run, root: Path, *args: str) -> tuple[int, str, str]:
    """Run `deck build` (or the given command) on a broken project; nothing may change."""
    before = snapshot(root)
    code, out, err = run(root, *(args or ("build",)))
    assert snapshot(root) == before, "a file was written, changed or left behind"
    assert hidden(root) == []
    return code, out, err


def package_notes(apkg: Path) -> dict[str, dict]:
    """front -> {deck, fields, tags} of the notes in a package, and its media by name."""
    with zipfile.ZipFile(apkg) as zipped, tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "collection.anki2"
        db.write_bytes(zipped.read("collection.anki2"))
        names = json.loads(zipped.read("media"))
        media = {name: zipped.read(index) for index, name in names.items()}
        conn = sqlite3.connect(db)
        try:
            decks = json.loads(conn.execute("select decks from col").fetchone()[0])
            rows = conn.execute("select n.flds, n.tags, c.did from notes n join cards c "
                                "on c.nid = n.id where c.ord = 0").fetchall()
        finally:
            conn.close()
    notes = {}
    for flds, tags, did in rows:
        fields = flds.split("\x1f")
        notes[fields[0]] = {"deck": decks[str(did)]["name"], "fields": fields,
                            "tags": tags.split(), "media": media}
    return notes


# --- source files that cannot be read -------------------------------------------------

def test_invalid_utf8_is_E501_at_the_bad_byte(good, run):
    (good / "source" / "bad.md").write_bytes(b"# B\n\n## q\n\ncaf\xe9 au lait\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["source/bad.md:5:4: E501 not valid UTF-8; save the file as UTF-8",
                                f"1 error; {NOTHING_WRITTEN}"]


def test_invalid_utf8_in_a_file_with_lone_cr_line_endings_is_located_at_the_bad_byte(good, run):
    # the same text as above, saved with classic-Mac line endings
    (good / "source" / "bad.md").write_bytes(b"# B\r\r## q\r\rcaf\xe9 au lait\r")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["source/bad.md:5:4: E501 not valid UTF-8; save the file as UTF-8",
                                f"1 error; {NOTHING_WRITTEN}"]


def test_utf16_file_with_bom_is_E502(good, run):
    (good / "source" / "u16.md").write_bytes("# U\n\n## q\n\na\n".encode("utf-16"))
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["source/u16.md:1:1: E502 file is UTF-16; save it as UTF-8",
                                f"1 error; {NOTHING_WRITTEN}"]


def test_file_over_10_mb_is_E503(good, run):
    line = b"Some long prose that nobody would write by hand in a flashcard file.\n"
    (good / "source" / "huge.md").write_bytes(b"# Huge\n\n## q\n\n" +
                                              line * (11 * 2**20 // len(line) + 1))
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source/huge.md:1:1: E503 file is 11.0 MB; source files are limited to 10 MB: split it into "
        "several decks",
        f"1 error; {NOTHING_WRITTEN}"]


def test_symlink_loop_of_files_a_to_b_to_a_is_E501_with_the_os_message(good, run):
    os.symlink("b.md", good / "source" / "a.md")
    os.symlink("a.md", good / "source" / "b.md")
    code, out, err = fails_and_loses_nothing(run, good)
    loop = os.strerror(errno.ELOOP)  # "Too many levels of symbolic links"
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"source/a.md:1:1: E501 cannot read the file: {loop}",
                                f"source/b.md:1:1: E501 cannot read the file: {loop}",
                                f"2 errors; {NOTHING_WRITTEN}"]


@pytest.mark.parametrize("name", ["secret.md", "good.md"],
                         ids=["a_new_file", "the_file_built_before"])
def test_unreadable_file_permission_denied_is_E501(good, run, monkeypatch, name):
    if name == "secret.md":
        (good / "source" / name).write_text("## q2\n\na2\n")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self)

    before = snapshot(good)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", read_bytes)
        code, out, err = run(good, "build")
    assert snapshot(good) == before and hidden(good) == []
    assert (code, out) == (1, "")
    # and for good.md: no W803, its card was not removed from the sources
    assert err.splitlines() == [f"source/{name}:1:1: E501 cannot read the file: Permission denied",
                                f"1 error; {NOTHING_WRITTEN}"]


def test_folder_named_like_a_source_file_notes_md_is_E505(good, run):
    (good / "source" / "notes.md").mkdir()
    (good / "source" / "notes.md" / "inside.md").write_text("## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source/notes.md:1:1: E505 'notes.md' is a folder, not a Markdown file; rename it",
        f"1 error; {NOTHING_WRITTEN}"]


# --- source files that must build --------------------------------------------------------

def test_utf8_bom_file_builds(good, run):
    source = b"\xef\xbb\xbf---\ntags: bom\n---\n# BOM deck\n\n## q2\n\na2\n"
    (good / "source" / "bom.md").write_bytes(source)
    code, out, err = run(good, "build")
    assert (code, err) == (0, "")
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/project.apkg", "2", "2", "1", "0", "1", "0", "0")
    notes = package_notes(good / "build" / "project.apkg")
    assert notes["q2"]["deck"] == "BOM deck" and notes["q2"]["tags"] == ["bom"]
    assert notes["q2"]["fields"][:2] == ["q2", "<p>a2</p>"]
    assert (good / "source" / "bom.md").read_bytes() == source
    assert hidden(good) == []


ENDINGS = ("# Endings\n\n## q2\n\nline one\nline two\n\n- a\n- b\n\n```python\nx = 1\n```\n\n"
           "| a | b |\n| - | - |\n| 1 | 2 |\n\n## q3\n\nFront text\n\n?\n\nback $x$\n"
           "\n## q4\n<!-- tags: t -->\n$$\ny^2\n$$\n")


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "lone_cr"])
def test_crlf_and_lone_cr_line_endings_build_the_same_cards_as_lf(tmp_path, run, newline):
    built = {}
    for name, ending in (("lf", "\n"), ("other", newline)):
        root = make_project(tmp_path / name, {"good.md": GOOD})
        if name == "other":  # a clone of the same project: its lock, its identities
            (root / "source" / "deck.lock").write_bytes(first_lock)
        assert run(root, "build")[0] == 0
        first_lock = (root / "source" / "deck.lock").read_bytes()
        data = ENDINGS.replace("\n", ending).encode()
        (root / "source" / "endings.md").write_bytes(data)
        code, out, err = run(root, "build")
        assert (code, err) == (0, "")
        assert SUMMARY.fullmatch(out.strip()).groups()[:4] == ("build/project.apkg", "2", "4",
                                                               "3")
        assert (root / "source" / "endings.md").read_bytes() == data  # not rewritten
        assert hidden(root) == []
        built[name] = ((root / "build" / "project.apkg").read_bytes(),
                       (root / "source" / "deck.lock").read_bytes())
    assert built["other"] == built["lf"]  # the same cards, byte for byte


@pytest.mark.parametrize("name, data", [("empty.md", b""),
                                        ("nocards.md", b"# Just a title\n\nSome prose.\n")],
                         ids=["empty_file", "file_with_no_cards"])
def test_empty_file_and_file_with_no_cards_warn_W108_and_build(good, run, name, data):
    package = (good / "build" / "good.apkg").read_bytes()
    lock = (good / "source" / "deck.lock").read_bytes()
    (good / "source" / name).write_bytes(data)
    code, out, err = run(good, "build")
    assert code == 0
    assert err.splitlines() == [f"source/{name}:1:1: W108 {W108}"]
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/good.apkg", "1", "1", "0", "0", "1", "0", "0")
    # the cards did not change, so neither do the package and the lock
    assert (good / "build" / "good.apkg").read_bytes() == package
    assert (good / "source" / "deck.lock").read_bytes() == lock
    assert (good / "source" / name).read_bytes() == data and hidden(good) == []


def test_project_whose_only_file_has_no_cards_is_E108(good, run):
    (good / "source" / "good.md").write_text("# Just a title\n\nSome prose.\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source:1:1: E108 no cards in 'source'; write Markdown files with '## ' headings there",
        f"source/good.md:1:1: W108 {W108}",
        "source/good.md:1:1: W803 card 'q1' was removed from the sources; an import does not delete "
        "notes: 'deck pending' shows how to delete it in Anki",
        f"1 error; {NOTHING_WRITTEN}"]


@pytest.mark.parametrize("link, target", [("loop", "."), ("sub/up", "..")],
                         ids=["link_to_its_own_folder", "link_to_the_parent_folder"])
def test_symlinked_folder_pointing_back_at_a_parent_is_W506_and_builds(good, run, link, target):
    package = (good / "build" / "good.apkg").read_bytes()
    path = good / "source" / link
    path.parent.mkdir(exist_ok=True)
    os.symlink(target, path)
    code, out, err = run(good, "build")
    assert code == 0
    assert err.splitlines() == [f"source/{link}:1:1: W506 symbolic link '{link}' leads to a folder "
                                "already read (a loop or a second way in); skipped"]
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/good.apkg", "1", "1", "0", "0", "1", "0", "0")  # good.md read once
    assert (good / "build" / "good.apkg").read_bytes() == package and hidden(good) == []


# --- front matter, headings, images -------------------------------------------------------

def test_front_matter_that_is_not_a_mapping_is_E106(good, run):
    (good / "source" / "fm.md").write_text("---\n- a\n- b\n---\n\n## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source/fm.md:1:1: E106 front matter must be a mapping of 'key: value' lines",
        f"1 error; {NOTHING_WRITTEN}"]


def test_front_matter_tag_with_spaces_is_E106_with_did_you_mean(good, run):
    (good / "source" / "fm.md").write_text(
        "---\ntags: [machine learning, ml]\n---\n\n## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "source/fm.md:1:1: E106 tag 'machine learning' contains a space; Anki tags are single words "
        "(did you mean 'machine_learning'?)",
        f"1 error; {NOTHING_WRITTEN}"]


# "billion laughs": each line repeats the one above 9 times, through YAML aliases
ALIAS_BOMB = """---
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
tags: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
---
"""


def test_yaml_alias_bomb_in_front_matter_is_E106_with_a_short_message(good, run):
    # 280 bytes that expand to 4.8 million tags: seconds, hundreds of MB and a message of
    # tens of MB, before aliases were refused
    assert len(ALIAS_BOMB) < 300
    (good / "source" / "bomb.md").write_text(ALIAS_BOMB + "\n## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert len(err) < 300
    assert err.splitlines() == [
        "source/bomb.md:1:1: E106 front matter uses the YAML anchor '&a' (line 2); anchors and "
        "aliases are not allowed here: write each value out",
        f"1 error; {NOTHING_WRITTEN}"]


@pytest.mark.parametrize("front_matter, problem", [
    ("tags: [ml]\ndeck: *nowhere\n", "uses the YAML alias '*nowhere' (line 3); anchors and "
     "aliases are not allowed here: write each value out"),
    ("tags: " + "[" * 600 + "]" * 600 + "\n", "nests lists or mappings more than 8 levels "
     "deep (line 2)"),
    ("tags: [" + ", ".join(["machine_learning"] * 500) + "]\n", "is 9,006 bytes, over the "
     "limit of 8 KB (plenty for 'deck', 'tags' and 'type'); shorten it"),
], ids=["alias", "nested_600_deep", "over_8_kb"])
def test_front_matter_that_is_costly_to_read_is_E106(good, run, front_matter, problem):
    (good / "source" / "fm.md").write_text(f"---\n{front_matter}---\n\n## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"source/fm.md:1:1: E106 front matter {problem}",
                                f"1 error; {NOTHING_WRITTEN}"]


def test_front_matter_values_are_quoted_on_one_line_and_cut_at_200_characters(good, run):
    word = "machine learning " * 30
    (good / "source" / "fm.md").write_text(
        f"---\ntype: {'x' * 300}\ntags: ['{word}', [a, {{b: c}}]]\n---\n\n## q2\n\na2\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    words = " ".join(word.split())
    assert err.splitlines() == [
        "source/fm.md:1:1: E106 empty tag '['a', {'b': 'c'}]' in 'tags'",
        f"source/fm.md:1:1: E106 tag '{words[:199]}…' contains a space; Anki tags are single words "
        f"(did you mean '{'_'.join(word.split())[:199]}…'?)",
        f"source/fm.md:1:1: E106 unknown card type '{'x' * 199}…'; expected 'basic', 'reversed' or "
        "'cloze'",
        f"3 errors; {NOTHING_WRITTEN}"]


def test_heading_with_only_math_builds(good, run):
    (good / "source" / "good.md").write_text(GOOD + "\n## $x^2$\n\nsquare\n")
    code, out, err = run(good, "build")
    assert (code, err) == (0, "")
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/good.apkg", "1", "2", "1", "0", "1", "0", "0")
    notes = package_notes(good / "build" / "good.apkg")
    assert notes["\\(x^2\\)"]["fields"][:2] == ["\\(x^2\\)", "<p>square</p>"]


def test_heading_with_only_an_image_builds_with_the_image_in_the_front(good, run):
    (good / "media" / "pic.png").write_bytes(PNG)
    (good / "source" / "good.md").write_text(GOOD + "\n## ![a](pic.png)\n\npicture\n")
    code, out, err = run(good, "build")
    assert (code, err) == (0, "")
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/good.apkg", "1", "2", "1", "0", "1", "0", "1")
    stored = f"pic-{hashlib.sha256(PNG).hexdigest()[:8]}.png"
    front = f'<img src="{stored}" alt="a">'
    notes = package_notes(good / "build" / "good.apkg")
    assert notes[front]["fields"][:2] == [front, "<p>picture</p>"]
    assert notes[front]["media"] == {stored: PNG}


@pytest.mark.parametrize("data, problem", [
    (b"hello, I am text\n", "is not a PNG image (its content does not match its name)"),
    (b"", "is an empty file"),
], ids=["png_holding_text", "zero_byte_png"])
def test_image_that_is_not_an_image_is_E405(good, run, data, problem):
    (good / "media" / "pic.png").write_bytes(data)
    (good / "source" / "good.md").write_text(GOOD + "\n## q2\n\n![a](pic.png)\n")
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"source/good.md:9:1: E405 image 'pic.png' {problem}",
                                f"1 error; {NOTHING_WRITTEN}"]


# --- long names: a file name is limited to 255 bytes, temporary names included --------------

def test_250_character_title_builds_a_package_with_a_short_name(tmp_path, run):
    built = []
    for n, ending in enumerate(("first", "second")):  # titles alike up to their last word
        title = ("The Very Long Title Of A Deck Of Flashcards " * 6)[:242] + " " + ending[:7]
        root = make_project(tmp_path / str(n), {"long.md": f"# {title}\n\n## q\n\na\n"})
        code, out, err = run(root, "build")
        assert (code, err) == (0, "")
        package = Path(SUMMARY.fullmatch(out.strip()).group(1))
        assert package.parent == Path("build") and hidden(root) == []
        assert package.name.startswith("the-very-long-title-of-a-deck-of-flashcards-the-")
        assert re.fullmatch(r"[a-z-]{80,91}-[0-9a-f]{8}\.apkg", package.name), package.name
        assert package_notes(root / package)["q"]["deck"] == title
        assert run(root, "build")[0] == 0  # and again: the name does not drift
        built.append(package.name)
    assert built[0] != built[1]  # the hash of the whole title tells them apart


def test_250_byte_file_name_builds_and_deck_ids_pins_it(tmp_path, run):
    name = "a-file-name-that-says-it-all-" * 8 + "ü" * 4 + "x" * 7 + ".md"
    assert len(name.encode()) == 250
    root = make_project(tmp_path, {name: "## q\n\na\n"})
    code, out, err = run(root, "build")
    assert (code, err) == (0, "")
    package = Path(SUMMARY.fullmatch(out.strip()).group(1))
    assert package_notes(root / package)["q"]["deck"] == name[:-3]
    assert len(package.name) == 105 and hidden(root) == []
    code, out, err = run(root, "ids")
    assert (code, out, err) == (0, "pinned 1 card in 1 file\n", "")
    assert (root / "source" / name).read_text().startswith("## q\n<!-- id: ")
    assert hidden(root) == []


def test_output_file_name_of_250_bytes_builds_and_its_leftovers_are_swept(good, run):
    name = "my-own-package-name-" * 12 + "ä" * 3 + ".apkg"
    assert len(name.encode()) == 251
    # what a build killed while writing it two hours ago left: its name cut, '.apkg' kept
    leftover = good / "build" / f".{name[:95]}.apkg.abcd1234.tmp"
    leftover.write_bytes(b"PK")
    os.utime(leftover, (leftover.stat().st_atime - 7200, leftover.stat().st_mtime - 7200))
    code, out, err = run(good, "build", "-o", f"build/{name}")
    assert (code, err) == (0, "")
    assert SUMMARY.fullmatch(out.strip()).group(1) == f"build/{name}"
    assert package_notes(good / "build" / name)["q1"]["deck"] == "Good"
    assert hidden(good) == []


# --- typos that Anki itself would reject or turn into a note without cards ---------------
# Correct behaviour: either a located error (exit 1, nothing written) or a package that
# Anki imports with a card for every note the build counted.

def builds_valid_or_fails_located(run, anki, root, heading_line):
    before = snapshot(root)
    code, out, err = run(root, "build")
    if code == 1:
        assert snapshot(root) == before and hidden(root) == []
        assert re.match(rf"source/good\.md:{heading_line}:\d+: E\d{{3}} ", err), err
        return
    assert code == 0, err
    package, notes = SUMMARY.fullmatch(out.splitlines()[0]).group(1, 3)
    log = anki.import_package(root / package)  # raises if Anki refuses the package
    assert anki.col.note_count() == int(notes) and len(log.conflicting) == 0
    no_cards = anki.col.db.list("select flds from notes where id not in "
                                "(select nid from cards)")
    assert no_cards == [], f"Anki made no card for {no_cards} (build said: {out.strip()})"


@pytest.mark.parametrize("card", [
    "## The capital of France is {{c1::Paris\n\nEurope\n",  # the closing '}}' forgotten
    "## The capital of France is {{c0::Paris}}\n\nEurope\n",  # clozes count from c1
    "## The capital of France is {{c1::}}\n\nEurope\n",  # an empty cloze
    "## The capital of France is {{c70000::Paris}}\n\nEurope\n",  # past Anki's last card
], ids=["unclosed_cloze", "cloze_c0", "empty_cloze", "cloze_c70000"])
@pytest.mark.anki
def test_cloze_typo(good, run, anki, card):
    (good / "source" / "good.md").write_text(GOOD + "\n" + card)
    builds_valid_or_fails_located(run, anki, good, 7)


@pytest.mark.parametrize("card, where", [("## q2\n\na\x1fb\n", "9:2"),
                                         ("## q\x1f2\n\nab\n", "7:5")],
                         ids=["in_the_back", "in_the_heading"])
def test_unit_separator_control_character_U001F_in_a_card(good, run, card, where):
    # invisible; arrives by copy and paste from PDFs and terminals, and is Anki's field
    # separator: a note holding it would not import
    (good / "source" / "good.md").write_text(GOOD + "\n" + card)
    before = snapshot(good)
    code, out, err = run(good, "build")
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"source/good.md:{where}: E502 control character U+001F in the text; "
                                "remove it (is this a binary file?)", "1 error; nothing was written"]
    assert snapshot(good) == before and hidden(good) == []


def test_cloze_with_a_huge_number_does_not_exhaust_memory(good):
    (good / "source" / "good.md").write_text(GOOD + "\n## {{c99999999999::Paris}}\n\nx\n")
    before = snapshot(good)
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
              "from generator.cli import main\n"
              "sys.exit(main(['build']))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1800000000"}
    env.pop("DECK_DEBUG", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=good, env=env, timeout=120,
                            capture_output=True, text=True, check=False)
    assert "internal error" not in result.stderr, result.stderr  # MemoryError at 1 GB
    assert result.returncode == 1, result.stderr
    assert re.match(r"source/good\.md:7:\d+: E\d{3} ", result.stderr), result.stderr
    assert snapshot(good) == before and hidden(good) == []


# --- the lock ---------------------------------------------------------------------------

def test_corrupt_lock_is_E901_at_its_line_and_column_then_reset_lock_builds(good, run):
    lock = (good / "source" / "deck.lock").read_bytes()
    package = (good / "build" / "good.apkg").read_bytes()
    (good / "source" / "deck.lock").write_text('{"version": 1,\n  "id_base": oops}\n')
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"source/deck.lock:2:14: E901 the lock file is corrupt (expecting value); {RESTORE}; this "
        "machine kept a copy of the last lock it wrote: --restore-lock takes it back",
        f"1 error; {NOTHING_WRITTEN}"]

    code, out, err = run(good, "build", "--restore-lock")
    assert (code, err) == (0, "")
    assert (good / "source" / "deck.lock").read_bytes() == lock
    (good / "source" / "deck.lock").write_text('{"version": 1,\n  "id_base": oops}\n')
    code, out, err = run(good, "build", "--reset-lock")
    assert (code, err) == (0, "")
    # this machine's memory of the last lock keeps the project value and the times: the
    # note is unchanged for Anki
    assert SUMMARY.fullmatch(out.strip()).groups() == (
        "build/good.apkg", "1", "1", "0", "0", "1", "0", "0")
    # the same sources at the same clock: the lock and the package come back as they were
    assert (good / "source" / "deck.lock").read_bytes() == lock
    assert (good / "build" / "good.apkg").read_bytes() == package
    assert hidden(good) == []


def test_lock_keeps_its_mode_when_a_build_rewrites_it(good, run):
    lock = good / "source" / "deck.lock"
    os.chmod(lock, 0o600)  # private: not for the other users of this machine
    before = lock.read_bytes()
    (good / "source" / "good.md").write_text(ADD_Q2)
    code, out, err = run(good, "build")
    assert (code, err) == (0, "") and lock.read_bytes() != before
    assert lock.stat().st_mode & 0o7777 == 0o600


def test_read_only_lock_is_never_replaced_a_build_that_would_change_it_is_exit_2(good, run):
    lock = good / "source" / "deck.lock"
    os.chmod(lock, 0o444)  # on purpose: this lock must not change
    (good / "build" / "good.apkg").unlink()
    code, out, err = run(good, "build")  # the lock stays as it is: the build goes on
    assert (code, err) == (0, "") and (good / "build" / "good.apkg").is_file()
    (good / "source" / "good.md").write_text(ADD_Q2)  # a new card: a new row in the lock
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (2, "")
    assert err == ("deck: error: the lock 'source/deck.lock' is read-only and this build would "
                   "change it; nothing was written: make it writable ('chmod u+w "
                   "source/deck.lock') to let the build record the cards' identities\n")
    assert lock.stat().st_mode & 0o7777 == 0o444
    os.chmod(lock, 0o644)
    assert run(good, "build")[0] == 0


def test_read_only_lock_is_not_rewritten_by_deck_pending_done(good, run):
    (good / "source" / "good.md").write_text("# Good\n\n## q2\n\na2\n")  # q1 removed
    assert run(good, "build")[0] == 0
    lock = good / "source" / "deck.lock"
    os.chmod(lock, 0o444)
    before = snapshot(good)
    code, out, err = run(good, "pending", "--done", "all")
    assert snapshot(good) == before and hidden(good) == []
    assert (code, out) == (2, "")
    assert err == (f"deck: error: cannot update the lock '{lock}': the file is read-only; "
                   "nothing was marked done\n")


# --- the build folder: cannot write, disk full, Ctrl-C ------------------------------------

def _interrupted_write(run, root, monkeypatch, patches):
    """Edit a card (so the package would change), run `deck build` with `patches` applied."""
    (root / "source" / "good.md").write_text(ADD_Q2)
    before = snapshot(root)
    with monkeypatch.context() as patch:
        for target, name, value in patches:
            patch.setattr(target, name, value)
        code, out, err = run(root, "build")
    assert snapshot(root) == before, "the package, the lock or a source changed"
    assert hidden(root) == []
    return code, out, err


def test_read_only_build_folder_cannot_create_the_temp_file_is_exit_2(good, run, monkeypatch):
    build_dir = good / "build"
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        folder = kwargs.get("dir")
        if folder is not None and Path(folder) == build_dir:  # as os.open would fail
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.path.join(
                folder, kwargs.get("prefix", "") + "x1y2z3w4" + kwargs.get("suffix", "")))
        return real(*args, **kwargs)

    code, out, err = _interrupted_write(run, good, monkeypatch,
                                        [(generator.package.tempfile, "mkstemp", mkstemp)])
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err == "deck: error: cannot write 'build/good.apkg': Permission denied\n"


def test_read_only_build_folder_cannot_rename_the_package_is_exit_2(good, run, monkeypatch):
    package = good / "build" / "good.apkg"
    real = os.replace

    def replace(src, dst, **kwargs):
        if Path(dst) == package:  # as os.replace reports it: both names
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(src), None,
                                  str(dst))
        return real(src, dst, **kwargs)

    code, out, err = _interrupted_write(run, good, monkeypatch,
                                        [(generator.package.os, "replace", replace)])
    assert (code, out) == (2, "")
    assert err == "deck: error: cannot write 'build/good.apkg': Permission denied\n"


def test_full_disk_while_writing_the_package_is_exit_2(good, run, monkeypatch):
    calls = []

    def add(out, name, data):  # called from inside _write_zip, for the entries after the
        calls.append(name)     # database, which is already in the half-written zip
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    code, out, err = _interrupted_write(run, good, monkeypatch,
                                        [(generator.package, "_add", add)])
    assert calls == ["media"]
    assert (code, out) == (2, "")
    assert err == "deck: error: cannot write 'build/good.apkg': No space left on device\n"


def test_full_disk_when_creating_the_temporary_database_leaves_no_temp_file(good, run,
                                                                            monkeypatch):
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("suffix") == ".db":  # the package's temp file was created just before
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    code, out, err = _interrupted_write(run, good, monkeypatch,
                                        [(generator.package.tempfile, "mkstemp", mkstemp)])
    assert (code, out) == (2, "")
    assert err == "deck: error: cannot write 'build/good.apkg': No space left on device\n"


def test_full_disk_while_writing_the_lock_names_the_lock(good, run, monkeypatch):
    (good / "source" / "good.md").write_text(ADD_Q2)
    lock = good / "source" / "deck.lock"
    before = lock.read_bytes()
    real = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(good / "source" / ".deck.lock")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    with monkeypatch.context() as patch:
        patch.setattr("generator.atomic.os.fsync", fsync)
        code, out, err = run(good, "build")
    assert lock.read_bytes() == before and hidden(good) == []
    assert (code, out) == (2, "")
    assert err == ("deck: error: wrote 'build/good.apkg' but cannot update the lock "
                   "'source/deck.lock': No space left on device; the old lock is intact, run "
                   "'deck build' again\n")


def test_ctrl_c_mid_build_is_exit_130_and_changes_nothing(good, run, monkeypatch):
    def write_db(*args, **kwargs):
        raise KeyboardInterrupt

    code, out, err = _interrupted_write(run, good, monkeypatch,
                                        [(generator.package, "_write_db", write_db)])
    assert (code, out) == (130, "")
    # click prints a newline first, to end the terminal's '^C' line
    assert [line for line in err.splitlines() if line] == [
        "deck: interrupted; nothing was changed"]


def test_ctrl_c_while_writing_the_lock_does_not_claim_nothing_changed(good, run, monkeypatch):
    package = good / "build" / "good.apkg"
    lock = good / "source" / "deck.lock"
    old_package, old_lock = package.read_bytes(), lock.read_bytes()
    (good / "source" / "good.md").write_text(ADD_Q2)
    real = os.replace
    interrupted = []

    def replace(src, dst, **kwargs):
        if Path(dst).name == "deck.lock":
            interrupted.append(dst)
            raise KeyboardInterrupt
        return real(src, dst, **kwargs)

    with monkeypatch.context() as patch:  # `os` itself: wherever the atomic write lives
        patch.setattr(os, "replace", replace)
        code, out, err = run(good, "build")
    assert interrupted, "the lock was never written, so Ctrl+C was not tested"
    assert (code, out) == (130, "")
    # the package was replaced, so the user must not be told that nothing changed
    assert err == ("deck: interrupted after writing 'build/good.apkg' and before updating the "
                   "lock 'source/deck.lock' (the old one is intact); run 'deck build' again\n")
    assert package.read_bytes() != old_package
    assert sorted(package_notes(package)) == ["q1", "q2"]
    assert lock.read_bytes() == old_lock and hidden(good) == []
    assert (good / "source" / "good.md").read_text() == ADD_Q2
    # as the message says, building again finishes the job
    code, out, err = run(good, "build")
    assert (code, err) == (0, "") and lock.read_bytes() != old_lock


@pytest.mark.parametrize("kind", ["file", "symlink_to_nothing"])
def test_build_that_is_not_a_folder_says_so_and_is_exit_2(good, run, kind):
    shutil.rmtree(good / "build")
    if kind == "file":
        (good / "build").write_text("notes I keep here\n")
        problem = "'build' is a file, not a folder; move it away"
    else:
        os.symlink("gone", good / "build")
        problem = ("'build' is a symbolic link to something that is not a folder; remove the "
                   "link, or make it point to a folder")
    (good / "source" / "good.md").write_text(ADD_Q2)
    code, out, err = fails_and_loses_nothing(run, good)
    assert (code, out) == (2, "")
    assert err == f"deck: error: cannot write 'build/good.apkg': {problem}\n"


def test_leftovers_of_a_killed_build_are_swept_after_an_hour_by_the_next_build(good, run):
    build_dir = good / "build"
    planted = {name: build_dir / name for name in (
        ".good.apkg.k1ll3d_9.tmp", ".good.apkg.k1ll3d_9.db",  # this package's, 2 hours old
        ".renamed-deck.apkg.abcd1234.tmp",  # another package's (the deck was renamed)
        ".good.apkg.fresh123.tmp",  # a build running now: kept
        ".good.apkg.tmp", "good.apkg.abcd1234.tmp", ".notes.abcd1234.tmp")}  # not ours
    for path in planted.values():
        path.write_bytes(b"PK\x03\x04 half a package")
        if "fresh" not in path.name:
            os.utime(path, (path.stat().st_atime - 7200, path.stat().st_mtime - 7200))
    (good / "source" / "good.md").write_text(GOOD + "\n## no back\n")
    assert run(good, "build")[0] == 1  # a failed build sweeps nothing
    assert all(path.exists() for path in planted.values())
    (good / "source" / "good.md").write_text(GOOD)
    code, out, err = run(good, "build")  # the package is unchanged, so not even written
    assert (code, err) == (0, "")
    assert sorted(p.name for p in build_dir.iterdir() if p.name.startswith(".")) == [
        ".good.apkg.fresh123.tmp", ".good.apkg.tmp", ".notes.abcd1234.tmp"]
    assert (build_dir / "good.apkg.abcd1234.tmp").exists()


# --- deck check -------------------------------------------------------------------------

def test_check_on_a_broken_project_exits_1_and_writes_nothing(good, run):
    shutil.rmtree(good / "build")
    (good / "source" / "good.md").write_text(ADD_Q2 + "\n## no back\n")
    code, out, err = fails_and_loses_nothing(run, good, "check")
    assert code == 1
    assert out.splitlines() == ["source/good.md:11:1: E102 card has no back"]
    assert err.splitlines() == ["1 error, 0 warnings in 2 cards from 1 file"]
    assert not (good / "build").exists()


def test_check_strict_exits_1_on_warnings_only(good, run):
    (good / "source" / "empty.md").write_bytes(b"")
    code, out, err = fails_and_loses_nothing(run, good, "check")
    assert code == 0
    assert out.splitlines() == [f"source/empty.md:1:1: W108 {W108}"]
    assert err.splitlines() == ["0 errors, 1 warning in 1 card from 1 file"]
    code, out, err = fails_and_loses_nothing(run, good, "check", "--strict")
    assert code == 1
    assert out.splitlines() == [f"source/empty.md:1:1: W108 {W108}"]
    assert err.splitlines() == ["0 errors, 1 warning in 1 card from 1 file"]


def test_check_format_json_outputs_valid_json(good, run):
    (good / "source" / "empty.md").write_bytes(b"")
    (good / "source" / "good.md").write_text(ADD_Q2 + "\n## no back\n")
    code, out, err = fails_and_loses_nothing(run, good, "check", "--format", "json")
    assert code == 1
    assert json.loads(out) == [
        {"path": "source/empty.md", "line": 1, "col": 1, "code": "W108", "severity": "warning",
         "message": W108},
        {"path": "source/good.md", "line": 11, "col": 1, "code": "E102", "severity": "error",
         "message": "card has no back"},
    ]
    assert err.splitlines() == ["1 error, 1 warning in 2 cards from 1 file"]
