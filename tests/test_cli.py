"""The `deck` command as a user meets it: exact output lines and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from generator.cli import main
from tests.conftest import make_project


@pytest.fixture
def run(monkeypatch, capsys):
    def run(root, *args):
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_build_prints_one_summary_line(tmp_path, run):
    root = make_project(tmp_path, {"ml.md": "# Machine Learning\n\n## q1\n\na1\n\n## q2\n\na2\n"})
    code, out, err = run(root, "build")
    assert code == 0 and err == ""
    assert re.fullmatch(r"built build/machine-learning\.apkg: 1 deck, 2 notes \(2 new, 0 changed, "
                        r"0 unchanged, 0 removed from sources\), 0 media files, \d+\.\d\d s\n", out)
    assert (root / "build" / "machine-learning.apkg").is_file()
    assert (root / "source" / "deck.lock").is_file()


def test_rebuild_reports_changes_rewording_and_removal(tmp_path, run):
    root = make_project(tmp_path, {"ml.md": "# ML\n\n## Capital of France?\n\nParis\n\n"
                                            "## gone\n\nbye\n"})
    run(root, "build")
    (root / "source" / "ml.md").write_text("# ML\n\n## Which city is the capital of France?"
                                           "\n\nParis\n")
    code, out, err = run(root, "build", "-o", "x.apkg")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("built x.apkg: 1 deck, 1 note (0 new, 1 changed, 0 unchanged, "
                               "1 removed from sources)")
    assert lines[1:] == ["  source/ml.md:3:1: kept the identity of reworded card "
                         "'Capital of France?'",
                         "1 step to do in Anki that an import cannot (1 deletion): 'deck "
                         "pending' shows them"]
    assert err.splitlines() == [
        "source/ml.md:1:1: W803 card 'gone' was removed from the sources; an import does not delete "
        "notes: 'deck pending' shows how to delete it in Anki"]


def test_errors_are_located_and_nothing_is_written(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# A\n\n## ok\n\nfine\n"})
    assert run(root, "build", "-o", "out.apkg")[0] == 0
    package = (root / "out.apkg").read_bytes()
    lock = (root / "source" / "deck.lock").read_bytes()
    (root / "source" / "a.md").write_text("# A\n\n## ok\n\nfine\n\n## no back\n\n"
                                          "## pic\n\n![x](missing.png)\n\n## ok\n\nagain\n")
    code, out, err = run(root, "build", "-o", "out.apkg")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "source/a.md:7:1: E102 card has no back",
        "source/a.md:11:1: E401 image 'missing.png' not found (looked in 'source' and 'media')",
        "source/a.md:13:1: E103 the same front as the card at a.md:3:1 in the deck 'A'; reword one, or "
        "give each an '<!-- id: ... -->'",
        "3 errors; nothing was written",
    ]
    assert (root / "out.apkg").read_bytes() == package
    assert (root / "source" / "deck.lock").read_bytes() == lock
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_missing_source_folder_is_a_usage_error(tmp_path, run):
    code, out, err = run(tmp_path, "build")
    assert code == 2
    assert err == ("deck: error: source folder 'source' not found; run in a project with a "
                   "'source/' folder or pass --source DIR\n")


def test_source_and_output_options(tmp_path, run):
    root = make_project(tmp_path, {})
    (root / "cards").mkdir()
    (root / "cards" / "x.md").write_text("## q\n\na\n")
    code, out, _ = run(root, "build", "--source", "cards", "--output", "deck/my.apkg")
    assert code == 0 and out.startswith("built deck/my.apkg: 1 deck, 1 note")
    assert (root / "cards" / "deck.lock").is_file()


def test_unreadable_lock_is_reported_and_reset_only_on_request(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "## q\n\na\n"})
    (root / "source" / "deck.lock").write_text("{oops")
    code, _, err = run(root, "build")
    assert code == 1
    assert err.splitlines() == [
        "source/deck.lock:1:2: E901 the lock file is corrupt (expecting property name enclosed in "
        "double quotes); restore it from git, or pass --reset-lock to rebuild it from the "
        "sources (reworded cards then get new identities)",
        "1 error; nothing was written"]
    assert (root / "source" / "deck.lock").read_text() == "{oops"
    code, out, _ = run(root, "build", "--reset-lock")
    assert code == 0 and "1 new" in out


def test_python_dash_m_and_help(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-m", "generator", "build", "--help"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0 and "--source DIR" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_card_moved_to_another_deck_is_reported(tmp_path, run):
    root = make_project(tmp_path, {"a.md": "# Old\n\n## q\n\na\n"})
    run(root, "build")
    (root / "source" / "a.md").write_text("# New\n\n## q\n\na\n")
    code, _, err = run(root, "build", "-o", "x.apkg")
    assert code == 0
    assert err == ("source/a.md:3:1: W802 deck changed from 'Old' to 'New'; an import does not move "
                   "existing cards: 'deck pending' shows how to move them in Anki\n")


def test_help_and_a_cached_check_do_not_import_what_they_do_not_use(tmp_path):
    """`deck --help` and `deck check` stay fast: no genanki, no Anki backend, no Pygments
    lexers (nor markdown-it when every file comes from the cache)."""
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\n```python\nx = 1\n```\n"})
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "SOURCE_DATE_EPOCH": "1800000000"}
    probe = ("import sys, contextlib, io\n"
             "from generator.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()), "
             "contextlib.redirect_stderr(io.StringIO()):\n"
             "    code = main(sys.argv[1:])\n"
             "heavy = ('genanki', 'anki', 'pygments.lexers', 'markdown_it', 'sqlite3')\n"
             "print(code, sorted({m.split('.')[0] if m.split('.')[0] != 'pygments' else m\n"
             "       for m in sys.modules if m == 'anki' or m.startswith(heavy)}))\n")

    def loaded(*args):
        done = subprocess.run([sys.executable, "-c", probe, *args], cwd=root, env=env,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert loaded("--help") == "0 []"
    assert subprocess.run([sys.executable, "-m", "generator", "build"], cwd=root, env=env,
                          capture_output=True, check=False).returncode == 0
    assert loaded("check") == "0 []"
    # a rebuild after an edit renders the edited file (markdown-it, Pygments) and writes a
    # package without genanki: the collection's layout comes from the cache
    path = root / "source" / "a.md"
    path.write_text(path.read_text().replace("x = 1", "x = 2"))
    rebuilt = loaded("build")
    assert rebuilt.startswith("0 ") and "'markdown_it'" in rebuilt, rebuilt
    assert "genanki" not in rebuilt, rebuilt


def test_deck_exits_cleanly_with_its_output_closed_or_cut_short(tmp_path):
    """`deck` leaves without the interpreter's teardown; a closed stream (`>&-`) or a pipe
    closed early (`| head -0`) must not turn that into a crash."""
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\nb\n"})
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    deck = f"{sys.executable} -m generator"
    for shell in (f"{deck} check >&-", f"{deck} check 2>&-", f"{deck} --help | head -0",
                  f"{deck} build >&- 2>&-"):
        done = subprocess.run(["bash", "-c", f"{shell}; echo $? >&2"], cwd=root, env=env,
                              capture_output=True, text=True, check=True)
        assert done.stderr.strip().splitlines()[-1] == "0", (shell, done.stderr)
        assert "Traceback" not in done.stderr and "Error" not in done.stderr, shell
    assert (root / "build" / "a.apkg").is_file()


_FINDINGS = ("# A\n\n## q\n\n```pyhton\nx\n```\n\n## r\n\n![](https://example.com/x.png)\n")
_W301 = "source/a.md:5:1: W301 unknown code language 'pyhton'; rendered as plain text"
_W407 = ("source/a.md:11:1: W407 image 'https://example.com/x.png' is fetched from the network "
         "at every review and does not show offline; download it into 'media/'")
_E103 = ("source/a.md:13:1: E103 the same front as the card at a.md:3:1 in the deck 'A'; "
         "reword one, or give each an '<!-- id: ... -->'")


def test_check_prints_counts_and_exits_on_the_chosen_findings_only(tmp_path, run):
    root = make_project(tmp_path, {"a.md": _FINDINGS + "\n## q\n\nagain\n"})
    code, out, err = run(root, "check", "--ignore", "W3")
    assert code == 1 and out.splitlines() == [_W407, _E103]
    assert err == "1 error, 1 warning in 3 cards from 1 file\n"
    code, out, err = run(root, "check", "--select", "W", "--ignore", "W301")
    assert code == 0 and out.splitlines() == [_W407]
    assert err == "0 errors, 1 warning in 3 cards from 1 file\n"
    assert run(root, "check", "--strict", "--select", "W")[0] == 1
    code, out, err = run(root, "check", "--strict", "--ignore", "e103,W3", "--ignore", "W407")
    assert (code, out, err) == (0, "", "no problems in 3 cards from 1 file\n")
    code, out, _ = run(root, "check", "--format", "json", "--select", "W4")
    assert code == 0 and [d["code"] for d in json.loads(out)] == ["W407"]


def test_build_and_watch_refuse_to_ignore_an_error(tmp_path, run):
    root = make_project(tmp_path, {"a.md": _FINDINGS})
    for command in ("build", "watch"):
        code, out, err = run(root, command, "--ignore", "W3,E103")
        assert code == 2 and out == ""
        assert (f"Invalid value for --ignore: cannot ignore E103: 'deck {command}' writes "
                "nothing while an error remains; 'deck check' and 'deck preview' can leave "
                "errors out") in err
    code, _, err = run(root, "build", "--ignore", "E9")
    assert code == 2 and "cannot ignore 'E9' (it takes in E901, E902, E903 and 1 more)" in err
    assert not (root / "build").exists()


def test_build_shows_the_chosen_warnings_and_every_error(tmp_path, run):
    root = make_project(tmp_path, {"a.md": _FINDINGS})
    code, out, err = run(root, "build", "--ignore", "W4")
    assert code == 0 and out.startswith("built build/a.apkg") and err.splitlines() == [_W301]
    (root / "source" / "a.md").write_text(_FINDINGS + "\n## q\n\nagain\n")
    code, out, err = run(root, "build", "--select", "W3")
    assert code == 1 and out == ""
    assert err.splitlines() == [_W301, _E103, "1 error; nothing was written"]
    code, out, err = run(root, "preview", "--select", "W4")
    assert code == 0 and err.splitlines() == [_W407]  # the preview is written all the same
    code, out, err = run(root, "preview", "--ignore", "E103")
    assert code == 0 and err.splitlines() == [_W301, _W407] and out.startswith("wrote ")


def test_an_unknown_code_is_a_usage_error(tmp_path, run):
    root = make_project(tmp_path, {"a.md": _FINDINGS})
    code, out, err = run(root, "check", "--ignore", "X999")
    assert code == 2 and out == ""
    assert ("Invalid value for --ignore: no finding 'X999'; give a code (W301) or its start "
            "(W3, W): README's table of findings lists them") in err
    code, _, err = run(root, "build", "--select", "W,W31")
    assert code == 2 and "no finding 'W31' (did you mean W301?)" in err
    code, _, err = run(root, "check", "--select", ",")
    assert code == 2 and "Invalid value for --select: no code given" in err
