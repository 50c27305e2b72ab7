"""`deck push` of a one-edit rebuild against `deck build` of the same, side by side.

A corpus of 10,000 cards (benchmarks/corpus.py) is pushed once into a collection that syncs
with Anki's own sync server on this machine (`python -m anki.syncserver`); then, alternating,
one card is edited and either `deck build` or `deck push` runs (the push builds, backs up,
pulls, imports, syncs and waits for the media). Reported: medians and what the push adds.
The target: at most 1 s over the build.

    .venv/bin/python benchmarks/push.py [--cards 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402
from run import edit_one_card  # noqa: E402

BIN = Path(sys.executable).parent
USER, PASSWORD = "bench", "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deck(corpus: Path, env: dict, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "deck"), *args], cwd=corpus, env=env,
                          capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"deck {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from anki.collection import Collection

    with tempfile.TemporaryDirectory(prefix="deck-push-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "NO_PROXY": "127.0.0.1", "XDG_CONFIG_HOME": str(work / "config"),
               "ANKI_SYNC_USERNAME": USER, "ANKI_SYNC_PASSWORD": PASSWORD}
        (work / "server").mkdir()
        server = subprocess.Popen(
            [sys.executable, "-m", "anki.syncserver"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**env, "SYNC_USER1": f"{USER}:{PASSWORD}",
                                            "SYNC_BASE": str(work / "server"),
                                            "SYNC_HOST": "127.0.0.1", "SYNC_PORT": str(port)})
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            desktop = work / "desktop" / "collection.anki2"
            desktop.parent.mkdir()
            col = Collection(str(desktop))
            auth = col.sync_login(USER, PASSWORD, endpoint)
            col.sync_collection(auth=auth, sync_media=False)
            col.full_upload_or_download(auth=auth, server_usn=None, upload=True)
            col.close()
            corpus = write_corpus(args.cards, work / "corpus")
            deck(corpus, env, "login", "--endpoint", endpoint)
            first = deck(corpus, env, "push", "--collection", str(desktop))
            builds, pushes = [], []
            for i in range(args.runs):
                edit_one_card(corpus, 2 * i)
                builds.append(deck(corpus, env, "build"))
                edit_one_card(corpus, 2 * i + 1)
                pushes.append(deck(corpus, env, "push", "--collection", str(desktop)))
        finally:
            server.terminate()
            server.wait()
    build, push = statistics.median(builds), statistics.median(pushes)
    print(f"{args.cards:,} cards, one edit, medians of {args.runs} alternating runs:")
    print(f"  deck build {build:.2f} s, deck push {push:.2f} s: the push adds {push - build:.2f} s "
          f"({push / build:.2f}x); the first push (every card new) took {first:.2f} s")


if __name__ == "__main__":
    main()
