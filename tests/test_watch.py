"""`deck watch` with real file-system events: rebuilds on save, survives broken saves."""

from __future__ import annotations

import queue
import threading

import pytest

from generator import build, watch
from tests.conftest import make_project


@pytest.fixture
def watching(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    root = make_project(tmp_path, {"a.md": "# A\n\n## q1\n\na1\n"})
    project = build.load_project(output="out.apkg", cwd=root)
    outcomes: queue.Queue = queue.Queue()
    stop = threading.Event()

    def loop():
        for outcome in watch.run(project, stop=stop):
            outcomes.put(outcome)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def next_outcome(timeout: float = 20):
        return outcomes.get(timeout=timeout)

    yield root, next_outcome
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the watcher did not stop"


def test_rebuilds_on_save_and_keeps_the_last_good_package_on_a_broken_one(watching):
    root, next_outcome = watching
    first = next_outcome()
    assert first.summary is not None and first.summary.new == 1
    preview = root / "build" / "preview"
    assert (preview / "index.html").is_file() and (preview / "version.js").is_file()
    assert "version.js" in (preview / "index.html").read_text()  # the page reloads itself

    source = root / "source" / "a.md"
    source.write_text("# A\n\n## q1\n\na1\n\n## q2\n\na2\n")
    second = next_outcome()
    assert (second.summary.new, second.summary.unchanged) == (1, 1)
    good = (root / "out.apkg").read_bytes()
    version = (preview / "version.js").read_text()

    source.write_text("# A\n\n## q1\n\na1\n\n## q2\n")  # saved halfway through a card
    broken = next_outcome()
    assert broken.summary is None and broken.error is None
    assert [str(d) for d in broken.diagnostics] == ["a.md:7:1: E102 card has no back"]
    assert (root / "out.apkg").read_bytes() == good
    assert (preview / "version.js").read_text() != version  # the page shows the finding
    assert "E102" in (preview / "index.html").read_text()

    source.write_text("# A\n\n## q1\n\na1\n\n## q2\n\na2, finished\n")
    fixed = next_outcome()
    assert (fixed.summary.changed, fixed.summary.unchanged) == (1, 1)
    assert (root / "out.apkg").read_bytes() != good


@pytest.mark.slow  # waits 2 s to see that nothing happens
def test_its_own_writes_do_not_trigger_rebuilds(watching):
    root, next_outcome = watching
    next_outcome()  # the first build wrote the lock in source/ and the preview
    (root / "source" / ".a.md.swp").write_text("editor swap file")
    with pytest.raises(queue.Empty):
        next_outcome(timeout=2)
    (root / "media").joinpath("new.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert next_outcome().summary is not None  # media changes do count
