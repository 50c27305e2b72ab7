"""Shared fixtures: sample projects, and a real Anki collection (`anki` on PyPI)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import build

ROOT = Path(__file__).resolve().parent.parent
# a valid 1x1 PNG, for cards that show an image
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a0a4d10000"
                    "000049454e44ae426082")


def compare_golden(path: Path, actual: str) -> None:
    """`actual` against the golden file `path`, with a unified diff on failure; with
    UPDATE_GOLDEN=1, writes it instead (review the diff in git)."""
    import difflib

    name = f"{path.parent.name}/{path.name}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(f"{name} is missing; run with UPDATE_GOLDEN=1 to write it")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(keepends=True),
                                    actual.splitlines(keepends=True),
                                    fromfile=f"{name} (expected)", tofile=f"{name} (actual)")
        pytest.fail(f"{name} differs from the golden file:\n" + "".join(diff), pytrace=False)


def make_project(tmp_path: Path, sources: dict[str, str], media: dict[str, bytes] | None = None
                 ) -> Path:
    """A project folder with `source/` files (relative path -> text) and `media/` files."""
    root = tmp_path / "project"
    for rel, text in sources.items():
        path = root / "source" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "source").mkdir(parents=True, exist_ok=True)
    (root / "media").mkdir(exist_ok=True)
    for rel, data in (media or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def copy_seed(tmp_path: Path) -> Path:
    """A copy of the repository's own deck (`source/`, `media/`) in `tmp_path/seed`."""
    root = tmp_path / "seed"
    shutil.copytree(ROOT / "source", root / "source")
    if (ROOT / "media").is_dir():
        shutil.copytree(ROOT / "media", root / "media")
    return root


def pytest_collection_modifyitems(items):
    """Tests are marked by hand (pyproject.toml lists the markers); this adds the two marks a
    test's own code reveals, so that a new test cannot slip into `make test-fast` unmarked:
    `anki` for one that asks for a real collection (the `anki` fixtures), `fuzz` for one
    that runs hypothesis (decorated with @given, or importing it in its body)."""
    for item in items:
        if {"anki", "anki_factory"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.anki)
        function = getattr(item, "function", None)
        if function is not None and (getattr(function, "is_hypothesis_test", False)
                                     or "hypothesis" in function.__code__.co_names):
            item.add_marker(pytest.mark.fuzz)


def build_project(root: Path, now: int, output: str = "out.apkg", **choice):
    """Build like `deck build -o out.apkg` in `root`, at a chosen clock time; `choice`:
    reset, restore or accept (the lock options)."""
    project = build.load_project(output=output, cwd=root)
    summary, compiled = build.build(project, now=now, choice=build.LockChoice(**choice))
    return Path(summary.output), summary, compiled


def git(root: Path, *args: str) -> str:
    """Run git in `root` as a user with a name, whatever the machine's configuration."""
    import os
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode not in (0, 1):
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout


def _card_answer():
    from anki.scheduler.v3 import CardAnswer

    return CardAnswer


class Anki:
    """A fresh collection driven the way Anki desktop drives it."""

    def __init__(self, path: Path):
        from anki.collection import Collection

        self.col = Collection(str(path))

    def import_package(self, package: Path):
        """Import with Anki's default options (update notes and note types "if newer")."""
        from anki.collection import ImportAnkiPackageRequest

        options = self.col._backend.get_import_anki_package_presets()
        return self.col.import_anki_package(
            ImportAnkiPackageRequest(package_path=str(package), options=options)).log

    def notes(self) -> dict[str, object]:
        """guid -> note."""
        return {self.col.get_note(nid).guid: self.col.get_note(nid)
                for nid in self.col.find_notes("")}

    def review_all(self) -> int:
        """Answer every new card once, 'easy', through the v3 scheduler, deck by deck as a
        user studying would; returns how many were answered."""
        assert self.col.sched.version == 3
        answered: set[int] = set()
        for did in sorted({self.col.get_card(c).did for c in self.col.find_cards("is:new")}):
            conf = self.col.decks.config_dict_for_deck_id(did)
            conf["new"]["perDay"] = conf["rev"]["perDay"] = 9999
            self.col.decks.update_config(conf)
            self.col.decks.select(did)
            while True:
                queued = self.col.sched.get_queued_cards(fetch_limit=1000).cards
                todo = [q for q in queued if q.card.id not in answered]
                if not todo:
                    break
                card = self.col.get_card(todo[0].card.id)
                card.start_timer()
                self.col.sched.answer_card(self.col.sched.build_answer(
                    card=card, states=todo[0].states, rating=_card_answer().EASY))
                answered.add(card.id)
        return len(answered)

    def card_states(self) -> dict[int, tuple]:
        """card id -> (note id, ord, type, queue, due, ivl, reps)."""
        rows = self.col.db.all("select id, nid, ord, type, queue, due, ivl, reps from cards")
        return {row[0]: tuple(row[1:]) for row in rows}

    def close(self) -> None:
        self.col.close()


@pytest.fixture
def anki(tmp_path):
    collection = Anki(tmp_path / "collection.anki2")
    yield collection
    collection.close()


@pytest.fixture
def anki_factory(tmp_path):
    opened = []

    def make(name: str) -> Anki:
        collection = Anki(tmp_path / f"{name}.anki2")
        opened.append(collection)
        return collection

    yield make
    for collection in opened:
        collection.close()


# --- Anki's own sync server -----------------------------------------------------------------

USER, PASSWORD = "user", "pass"
SERVER_START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@pytest.fixture
def sync_server(tmp_path, monkeypatch):
    """Anki's sync server on 127.0.0.1 with one user; yields its endpoint."""
    # the sync client honours *_PROXY variables; loopback must never go through a proxy
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, ",".join(x for x in (os.environ.get(var), "127.0.0.1") if x))
    port = free_port()
    base = tmp_path / "server"
    base.mkdir()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNC_")}
    env.update(SYNC_USER1=f"{USER}:{PASSWORD}", SYNC_BASE=str(base), SYNC_HOST="127.0.0.1",
               SYNC_PORT=str(port))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "anki.syncserver"], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sync server exited with status {proc.returncode}:\n"
                            f"{_log_tail(log_path)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sync server did not accept connections on port {port} "
                                f"within {SERVER_START_TIMEOUT:.0f}s:\n{_log_tail(log_path)}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
