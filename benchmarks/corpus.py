"""A seeded corpus like a heavy user's: N cards in files of about 100, in our card syntax.

Short questions; answers with paragraphs; about 30% with inline math, 20% with a fenced
Python block, some lists and tables, 5% with an image (the images live in `media/`).

    python benchmarks/corpus.py 10000 /tmp/corpus10k
"""

from __future__ import annotations

import random
import struct
import sys
import zlib
from pathlib import Path

WORDS = ("gradient loss model tensor layer batch epoch weight bias activation softmax "
         "sigmoid kernel stride padding dropout optimizer momentum learning rate entropy "
         "precision recall matrix vector scalar embedding token attention encoder decoder "
         "residual normalization variance mean sample feature label dataset").split()
CARDS_PER_FILE = 100
IMAGES = 20


def png(seed: int) -> bytes:
    """A small valid PNG, different for each seed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    width = height = 8
    row = bytes([0]) + bytes((seed * 37 + i) % 256 for i in range(width * 3))
    raw = row * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                           0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sentence(rng: random.Random, low: int = 6, high: int = 16) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def card(rng: random.Random, n: int) -> str:
    lines = [f"## What is {rng.choice(WORDS)} {rng.choice(WORDS)} number {n}?", ""]
    for _ in range(rng.randint(1, 3)):
        text = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.3:
            text += f" Here $x_{{{n}}} = \\frac{{a_i * b_i}}{{\\sum_j w_j}}$ holds."
        lines += [text, ""]
    if rng.random() < 0.2:
        lines += ["```python", f"def step_{n}(w, grad, lr=0.01):",
                  "    # one plain gradient step", "    return [x - lr * g for x, g in zip(w, grad)]",
                  "```", ""]
    if rng.random() < 0.15:
        lines += [f"- {sentence(rng, 3, 6)}" for _ in range(3)] + [""]
    if rng.random() < 0.05:
        lines += ["| name | value |", "| --- | --- |",
                  f"| {rng.choice(WORDS)} | {rng.randint(1, 99)} |",
                  f"| {rng.choice(WORDS)} | {rng.randint(1, 99)} |", ""]
    if rng.random() < 0.05:
        lines += [f"![diagram](figure-{rng.randrange(IMAGES)}.png)", ""]
    return "\n".join(lines)


def write_corpus(n: int, root: Path, seed: int = 1) -> Path:
    """Write `root/source/*.md` and `root/media/*.png`; returns `root`."""
    rng = random.Random(seed)
    (root / "source").mkdir(parents=True, exist_ok=True)
    (root / "media").mkdir(exist_ok=True)
    for i in range(IMAGES):
        (root / "media" / f"figure-{i}.png").write_bytes(png(i))
    for start in range(0, n, CARDS_PER_FILE):
        body = "\n".join(card(rng, k) for k in range(start, min(n, start + CARDS_PER_FILE)))
        name = f"topic-{start // CARDS_PER_FILE:04d}.md"
        (root / "source" / name).write_text(f"# Topic {start // CARDS_PER_FILE}\n\n{body}",
                                            encoding="utf-8")
    return root


def cards_of(root: Path) -> list[tuple[str, str, str]]:
    """(deck, front, back) of every card, split the simple way the corpus is written."""
    out = []
    for path in sorted((root / "source").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        deck = text.split("\n", 1)[0][2:]
        for chunk in text.split("\n## ")[1:]:
            front, _, back = chunk.partition("\n")
            out.append((deck, front, back.strip()))
    return out


if __name__ == "__main__":
    write_corpus(int(sys.argv[1]), Path(sys.argv[2]))
