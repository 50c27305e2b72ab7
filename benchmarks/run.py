"""Benchmark `deck build` against the floor (genanki writing the same cards, no rendering).

Each figure is timed side by side with the floor in the same run, alternating floor, deck,
floor, deck, and reported as medians with their ratio; peak memory comes from
`/usr/bin/time`. Absolute times differ between machines; the ratios travel.

    .venv/bin/python benchmarks/run.py                 # 1,000, 10,000 and 100,000 cards
    .venv/bin/python benchmarks/run.py --sizes 1000 10000 --runs 5

Writes the table to stdout and as JSON to build/benchmarks.json.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402

BIN = Path(sys.executable).parent
DECK = str(BIN / "deck")
TIME = "/usr/bin/time"


def measure(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one run of `cmd`."""
    started = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%M", *cmd], cwd=cwd, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return wall, int(done.stderr.strip().splitlines()[-1]) // 1024


def clean(corpus: Path) -> None:
    shutil.rmtree(corpus / "build", ignore_errors=True)
    (corpus / "source" / "deck.lock").unlink(missing_ok=True)


def edit_one_card(corpus: Path, n: int) -> None:
    path = corpus / "source" / "topic-0000.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("?\n\n", f"?\n\nEdited {n}. ", 1), encoding="utf-8")


def side_by_side(corpus: Path, runs: int, before) -> dict:
    """Alternate floor and deck `runs` times; `before(i)` prepares each deck run."""
    floor_cmd = [sys.executable, str(HERE / "floor.py"), str(corpus), str(corpus / "floor.apkg")]
    deck_cmd = [DECK, "build", "-o", str(corpus / "deck.apkg")]
    floor, deck = [], []
    for i in range(runs):
        floor.append(measure(floor_cmd, corpus))
        before(i)
        deck.append(measure(deck_cmd, corpus))
    f = statistics.median(w for w, _ in floor)
    d = statistics.median(w for w, _ in deck)
    return {"floor_s": round(f, 3), "deck_s": round(d, 3), "ratio": round(d / f, 2),
            "deck_peak_rss_mb": max(m for _, m in deck),
            "floor_peak_rss_mb": max(m for _, m in floor), "runs": runs}


def bench_size(n: int, runs: int, work: Path) -> dict:
    corpus = write_corpus(n, work / f"corpus-{n}")
    row = {"cards": n}
    row["clean"] = side_by_side(corpus, runs, lambda i: clean(corpus))
    subprocess.run([DECK, "build", "-o", str(corpus / "deck.apkg")], cwd=corpus,
                   capture_output=True, check=True)  # warm: lock and cache exist
    row["noop"] = side_by_side(corpus, runs, lambda i: None)
    row["edit"] = side_by_side(corpus, runs, lambda i: edit_one_card(corpus, i))
    return row


def startup(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([DECK, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def seed(runs: int, work: Path) -> dict:
    """The user's own deck: a fresh checkout (lock, no cache) and a rebuild."""
    project = work / "seed"
    shutil.copytree(ROOT / "source", project / "source")
    first, again = [], []
    for _ in range(runs):
        shutil.rmtree(project / "build", ignore_errors=True)
        first.append(measure([DECK, "build"], project)[0])
        again.append(measure([DECK, "build"], project)[0])
    return {"fresh_s": round(statistics.median(first), 3),
            "rebuild_s": round(statistics.median(again), 3)}


def table(result: dict) -> str:
    lines = ["| cards | figure | floor (s) | deck (s) | ratio | deck peak RSS (MB) |",
             "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for row in result["sizes"]:
        for figure, label in (("clean", "clean build, no cache"), ("noop", "no-op rebuild"),
                              ("edit", "rebuild after one edit")):
            r = row[figure]
            lines.append(f"| {row['cards']:,} | {label} | {r['floor_s']:.2f} | "
                         f"{r['deck_s']:.2f} | {r['ratio']:.2f}x | {r['deck_peak_rss_mb']} |")
    sizes = {row["cards"]: row for row in result["sizes"]}
    if 10_000 in sizes and 100_000 in sizes:
        growth = sizes[100_000]["clean"]["deck_s"] / sizes[10_000]["clean"]["deck_s"]
        lines.append(f"\nclean build, 100,000 vs 10,000 cards: {growth:.1f}x the time")
    lines.append(f"`deck --help`: {result['help_s']:.3f} s; seed deck: "
                 f"{result['seed']['fresh_s']:.3f} s fresh checkout, "
                 f"{result['seed']['rebuild_s']:.3f} s rebuild")
    lines.append(f"{result['machine']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # timed as an installed package runs: from bytecode (which PYTHONDONTWRITEBYTECODE, set
    # on some machines, would otherwise keep from being written for an editable install)
    for folder in (ROOT / "generator", HERE):
        compileall.compile_dir(str(folder), quiet=1)
    with tempfile.TemporaryDirectory(prefix="deck-bench-") as tmp:
        work = Path(tmp)
        result = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
                  "help_s": startup(max(5, args.runs)), "seed": seed(args.runs, work),
                  "sizes": []}
        for n in args.sizes:
            result["sizes"].append(bench_size(n, args.runs, work))
            print(f"{n:,} cards done", file=sys.stderr, flush=True)
    out = ROOT / "build" / "benchmarks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\n(written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
