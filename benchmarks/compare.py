"""Compare variants of `deck build` side by side: this checkout against an earlier commit, or
against itself with a speed trick turned off (`DECK_WITHOUT`, see generator/speedups.py).

Each variant builds its own copy of the same corpus; runs alternate between variants, so a
busy machine slows them alike, and the table reports medians and each variant's ratio to
this checkout.

    .venv/bin/python benchmarks/compare.py --rev 8ac2b07               # before a refactor
    .venv/bin/python benchmarks/compare.py --without collector exit lexer
    .venv/bin/python benchmarks/compare.py --rev HEAD~3 --cards 10000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402
from run import clean, edit_one_card  # noqa: E402


@dataclass
class Variant:
    name: str
    code: Path  # the folder holding the `generator` package to run
    env: dict[str, str] = field(default_factory=dict)
    corpus: Path = Path()

    def build(self) -> float:
        env = {**os.environ, "PYTHONPATH": str(self.code), **self.env}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "generator", "build", "-o",
                               str(self.corpus / "deck.apkg")], cwd=self.corpus, env=env,
                              capture_output=True, text=True, check=False)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{self.name} failed:\n{done.stdout}\n{done.stderr}")
        return took


def checkout(rev: str, work: Path) -> Path:
    folder = work / f"rev-{rev.replace('/', '-')}"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT,
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "generator")],
                   check=True)
    return folder


def figure(variants: list[Variant], runs: int, prepare) -> dict[str, float]:
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    for i in range(runs):
        order = variants if i % 2 == 0 else variants[::-1]
        for variant in order:
            prepare(variant, i)
            times[variant.name].append(variant.build())
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", action="append", default=[],
                        help="an earlier commit to compare with (repeatable)")
    parser.add_argument("--without", nargs="+", default=[],
                        help="speed tricks to turn off, one variant each")
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "generator")],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="deck-compare-") as tmp:
        work = Path(tmp)
        variants = [Variant("this checkout", ROOT)]
        worktrees = []
        try:
            for rev in args.rev:
                worktrees.append(checkout(rev, work))
                variants.append(Variant(f"at {rev}", worktrees[-1]))
            variants += [Variant(f"without {name}", ROOT, {"DECK_WITHOUT": name})
                         for name in args.without]
            corpus = write_corpus(args.cards, work / "corpus")
            for n, variant in enumerate(variants):
                variant.corpus = work / f"corpus-{n}"
                shutil.copytree(corpus, variant.corpus)
            rows = {"clean build, no cache": figure(
                variants, args.runs, lambda v, i: clean(v.corpus))}
            for variant in variants:
                variant.build()  # warm: lock and cache exist
            rows["no-op rebuild"] = figure(variants, args.runs, lambda v, i: None)
            rows["rebuild after one edit"] = figure(
                variants, args.runs, lambda v, i: edit_one_card(v.corpus, i))
        finally:
            for folder in worktrees:
                subprocess.run(["git", "worktree", "remove", "--force", str(folder)],
                               cwd=ROOT, check=False, capture_output=True)
    head = " | ".join(f"{v.name} (s) | ratio" for v in variants[1:])
    print(f"| {args.cards:,} cards | this checkout (s) | {head} |")
    print("| --- | ---: |" + " ---: | ---: |" * (len(variants) - 1))
    for label, medians in rows.items():
        mine = medians["this checkout"]
        cells = " | ".join(f"{medians[v.name]:.3f} | {medians[v.name] / mine:.2f}x"
                           for v in variants[1:])
        print(f"| {label} | {mine:.3f} | {cells} |")
    print(f"\nmedians of {args.runs} alternating runs; {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}")


if __name__ == "__main__":
    main()
