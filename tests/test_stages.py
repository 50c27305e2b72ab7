"""The seams between stages: helper processes that cannot start or die, the cache's typed
validation records, the one atomic write, and the exit that skips the teardown."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest

from generator import atomic, build, pool, speedups
from tests.conftest import PNG, make_project

NOW = 1_800_000_000


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "PARALLEL_BYTES", 0)  # helpers even for a small project
    files = {f"t{n}.md": f"# T\n\n## Question {n}?\n\n```python\nprint({n})\n```\n"
             for n in range(6)}
    root = make_project(tmp_path, files)
    return build.load_project(output="out.apkg", cwd=root)


def built(project, **options) -> bytes:
    build.build(project, now=NOW, use_cache=False, **options)
    return (project.root / "out.apkg").read_bytes()


def test_helpers_that_cannot_start_leave_the_work_to_this_process(project, monkeypatch,
                                                                   caplog):
    serial = built(project, workers=1)
    import concurrent.futures

    def refused(*args, **kwargs):
        raise OSError(38, "Function not implemented")  # no semaphores, as in some sandboxes

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refused)
    with caplog.at_level(logging.DEBUG, logger="deck.pool"):
        assert built(project, workers=2) == serial
    assert "helpers cannot start" in caplog.text


def test_a_helper_that_dies_leaves_the_rest_to_this_process(project, monkeypatch, caplog):
    serial = built(project, workers=1)

    def dies(job):
        os._exit(1)  # as if killed by the OOM killer

    dies.__module__, dies.__qualname__ = "generator.pool", "_compile_job"
    monkeypatch.setattr(pool, "_compile_job", dies)
    with caplog.at_level(logging.DEBUG, logger="deck.pool"):
        assert built(project, workers=2) == serial
    assert "a helper stopped" in caplog.text


def test_helpers_are_not_forked_from_a_process_running_threads():
    assert threading.active_count() == 1 or pool.start_method() != "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert pool.start_method() in ("forkserver", "spawn")
    finally:
        stop.set()
        thread.join()


def test_helpers_are_not_forked_beside_the_watchers_native_thread(tmp_path):
    """watchfiles watches from a Rust thread that `threading` does not count."""
    from generator import watch

    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\na\n"})
    stop = threading.Event()
    methods = []
    for _ in watch.run(build.load_project(cwd=root), stop=stop):
        assert threading.active_count() == 1  # Python sees only itself
        methods.append(pool.start_method())
        stop.set()
    assert methods and methods[0] in ("forkserver", "spawn")


def test_helpers_started_without_fork_render_the_same(project, monkeypatch):
    serial = built(project, workers=1)
    monkeypatch.setattr(pool, "start_method", lambda: "spawn")
    assert built(project, workers=2) == serial


def test_validation_records_of_different_kinds_never_collide(tmp_path):
    """The cache used to key its records as strings, `folder\\0name` for a folder's
    listing and `path\\0link` for symbolic links: a listing looked up for a file named
    'link' read as a record of links (reachable only by a file E405 refuses, so never
    cached; typed records make it impossible)."""
    from generator.media import Look, Probe

    (tmp_path / "Link").write_bytes(PNG)
    names = Probe(Look.NAMES, str(tmp_path), "link")
    links = Probe(Look.LINKS, str(tmp_path))
    assert names != links and len({names, links}) == 2
    assert names.now() == ("Link",) and links.now() is None
    found = Probe(Look.FILE, str(tmp_path / "Link")).now()
    assert found is not None and found[0] == len(PNG)


def test_a_cached_card_is_refused_when_its_image_changes(tmp_path):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\n![x](pic.png)\n",
                                   "b.md": "# A\n\n## p\n\nplain\n"},
                        media={"media/pic.png": PNG})
    project = build.load_project(cwd=root)
    assert len(build.build(project, now=NOW)[1].fresh) == 2
    assert build.build(project, now=NOW)[1].fresh == ()
    (root / "media" / "pic.png").write_bytes(PNG + b"\0")
    assert [r.path for r in build.build(project, now=NOW + 1)[1].fresh] == ["a.md"]


def test_the_cache_says_why_it_refused_an_entry(tmp_path, caplog):
    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\n![x](pic.png)\n",
                                   "b.md": "# A\n\n## p\n\nplain\n"},
                        media={"media/pic.png": PNG})
    project = build.load_project(cwd=root)
    build.build(project, now=NOW)
    os.utime(root / "media" / "pic.png", ns=(1, 1))
    with caplog.at_level(logging.DEBUG, logger="deck.cache"):
        build.build(project, now=NOW)
    refused = [r.getMessage() for r in caplog.records if "rendered again" in r.getMessage()]
    assert refused == [f"cache: 'a.md' rendered again: '{root / 'media' / 'pic.png'}' changed"]


def test_without_the_cache_nothing_is_read_or_kept(tmp_path, caplog):
    from generator.cache import Cache

    root = make_project(tmp_path, {"a.md": "# A\n\n## q\n\na\n"})
    project = build.load_project(cwd=root)
    with caplog.at_level(logging.DEBUG, logger="deck.cache"):
        summary, compiled = build.build(project, now=NOW, use_cache=False)
    assert Path(summary.output).is_file() and len(compiled.fresh) == 1
    assert not (root / "build" / "cache").exists()
    assert [r.getMessage() for r in caplog.records] == [
        "cache: off (--no-cache): every file is rendered, nothing is kept"]
    build.build(project, now=NOW)
    kept = sorted((root / "build" / "cache").rglob("*"))
    assert build.build(project, now=NOW, use_cache=False)[1].fresh != ()
    Cache(project.build_dir, project.source, project.media, enabled=False).forget()
    assert sorted((root / "build" / "cache").rglob("*")) == kept


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic.replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("the disk filled up")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["file.txt"]
    atomic.write(target, "new", keep_mode=True)
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
    os.chmod(target, 0o440)
    with pytest.raises(PermissionError):
        atomic.write(target, "newer", refuse_read_only=True)
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["file.txt"]


def test_a_symbolic_link_stays_a_link_and_its_target_is_replaced(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic.write(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def _exit_way(*setup: str, env: dict | None = None) -> tuple[int, str]:
    """Run `exit_process(3)` in a fresh interpreter, after `setup` lines:
    its exit code, and what it printed ('teardown' when the interpreter tore down)."""
    import subprocess

    script = "\n".join([
        "import os, sys",
        "from generator import speedups",
        "class Torn:",
        "    def __del__(self, write=os.write):",
        "        write(1, b'teardown')",
        "torn = Torn()",
        *setup,
        "speedups.exit_process(3)"])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path.cwd()), **(env or {})},
                          check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_teardown_is_skipped_only_when_nothing_waits_for_it():
    assert _exit_way() == (3, "")
    # a profiler writes its report at exit; an exit handler it does not know must run
    assert _exit_way("sys.setprofile(lambda *a: None)") == (3, "teardown")
    # cProfile itself (from Python 3.12 it watches through sys.monitoring)
    assert _exit_way("import cProfile", "cProfile.Profile().enable()") == (3, "teardown")
    assert _exit_way("import atexit", "atexit.register(print, 'handler ran', end='')") == \
        (3, "handler ranteardown")
    # what a build leaves: logging's handler (flushed first) and a pool shut down
    assert _exit_way("import logging, multiprocessing.util",
                     "logging.getLogger('x').warning('said')") == (3, "said\n")


def test_each_speedup_can_be_turned_off():
    assert _exit_way(env={"DECK_WITHOUT": "exit"}) == (3, "teardown")
    assert _exit_way(env={"DECK_WITHOUT": "all"}) == (3, "teardown")
    import gc

    with speedups.collector_paused():
        assert gc.isenabled() is not speedups.enabled("collector")
    assert gc.isenabled()
    assert _exit_way("import gc", "speedups.pause_collector()",
                     "print(gc.isenabled(), end='')",
                     env={"DECK_WITHOUT": "collector"}) == (3, "True")


def _deck(root: Path, *args: str) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "generator", *args], cwd=root,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path.cwd()),
                               "SOURCE_DATE_EPOCH": str(NOW)})
    return done.returncode, done.stdout, done.stderr


def test_the_command_line_takes_jobs_no_cache_and_verbose(tmp_path):
    files = {f"t{n}.md": f"# T\n\n## Question {n}?\n\n![x](pic.png)\n" for n in range(3)}
    root = make_project(tmp_path, files, media={"media/pic.png": PNG})
    code, out, err = _deck(root, "build", "--no-cache", "--jobs", "1")
    assert (code, err) == (0, "") and "3 new" in out
    assert not (root / "build" / "cache").exists()
    packaged = (root / "build" / "t.apkg").read_bytes()
    code, out, err = _deck(root, "build", "-j", "2", "-v")
    assert code == 0 and "0 changed, 3 unchanged" in out
    assert err.splitlines() == [*(f"deck: cache: 't{n}.md' rendered: no entry (new, edited, "
                                  "or the tool changed)" for n in range(3)),
                                "deck: cache: the layout is made: none kept"]
    assert (root / "build" / "t.apkg").read_bytes() == packaged
    os.utime(root / "media" / "pic.png", ns=(1, 1))
    code, out, err = _deck(root, "check", "--verbose")
    assert code == 0
    assert [line for line in err.splitlines() if line.startswith("deck:")] == [
        f"deck: cache: 't{n}.md' rendered again: '{root / 'media' / 'pic.png'}' changed"
        for n in range(3)]
    code, _, err = _deck(root, "build", "--jobs", "0")
    assert code == 2 and "0 is not in the range x>=1" in err
