"""Time code highlighting with the quick lexer on and off (generator/quicklex.py).

A seeded corpus of code blocks like cards hold (Python, JavaScript, C, Bash, a few to a
dozen lines each) is highlighted in one process after a warm-up pass, each block on and
off back to back (which goes first alternates between runs); medians of the runs' totals
and their ratio, per language and in all. C goes through
Pygments either way (its lexer post-processes tokens), so it shows the noise.

    .venv/bin/python benchmarks/lexer.py                 # 2,000 blocks, 7 runs each way
    .venv/bin/python benchmarks/lexer.py --blocks 500 --runs 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from generator import highlight, quicklex  # noqa: E402

WORDS = ("loss grad weight batch layer model step rate mean tokens scores mask cache").split()

TEMPLATES = {
    "python": [
        'def {a}_{b}({a}, {b}, lr=0.01):\n    """One plain {a} step."""\n'
        '    return [x - lr * g for x, g in zip({a}, {b})]  # no momentum\n',
        "class {A}(nn.Module):\n    def __init__(self, dim: int = {n}) -> None:\n"
        "        super().__init__()\n        self.{a} = nn.Linear(dim, dim * 4)\n\n"
        "    def forward(self, x):\n        return self.{a}(x).relu() @ self.{b}.T / {n}.0\n",
        "import numpy as np\n\n{a} = np.random.default_rng({n}).normal(size=({n}, 3))\n"
        "{b} = {a}.mean(axis=0)\nprint(f\"{{{b}!r}} has shape {{{a}.shape}}\")\n",
        "with open('{a}.json', encoding='utf-8') as f:\n    {b} = json.load(f)\n"
        "for key, value in sorted({b}.items()):\n    if value is None or key.startswith('_'):\n"
        "        continue\n    yield key, value\n",
    ],
    "javascript": [
        "const {a} = ({b}, n = {n}) => {b}.map((x, i) => x * i).filter(Boolean);\n"
        "// keep the {a} for later\nexport default {a};\n",
        "async function load{A}(url) {{\n  const res = await fetch(`${{url}}/{a}?n={n}`);\n"
        "  if (!res.ok) throw new Error('failed: ' + res.status);\n  return res.json();\n}}\n",
        "document.querySelectorAll('.{a}').forEach(el => {{\n"
        "  el.addEventListener('click', () => {{ el.classList.toggle('{b}'); }});\n}});\n",
    ],
    "c": [
        "#include <stdio.h>\n\nint {a}(int *{b}, size_t n) {{\n    int s = 0;\n"
        "    for (size_t i = 0; i < n; i++) s += {b}[i] * {n};\n    return s;\n}}\n",
        "static double {a}_{b}(const double *x, int n) {{\n    /* mean of x */\n"
        "    double m = 0.0;\n    while (n-- > 0) m += *x++;\n    return m / {n};\n}}\n",
    ],
    "bash": [
        "for f in {a}/*.md; do\n  echo \"$f\" | grep -q '{b}' && cp \"$f\" /tmp/{b}-{n}/\n"
        "done\n",
        "#!/usr/bin/env bash\nset -euo pipefail\n{A}=${{1:-{n}}}\n"
        "python train.py --{a} \"${A}\" --{b} 0.1 2>&1 | tee log-{n}.txt\n",
    ],
}


def corpus(blocks: int, seed: int = 1) -> list[tuple[str, str]]:
    """(code, lang) pairs: templates joined a few at a time, names drawn from WORDS."""
    rng = random.Random(seed)
    langs = list(TEMPLATES)
    out = []
    for _ in range(blocks):
        lang = rng.choice(langs)
        parts = []
        for _ in range(rng.randint(1, 3)):
            a, b = rng.sample(WORDS, 2)
            parts.append(rng.choice(TEMPLATES[lang]).format(
                a=a, b=b, A=a.capitalize(), n=rng.randint(2, 999)))
        out.append(("\n".join(parts), lang))
    return out


def run(blocks: list[tuple[str, str]], first: bool) -> dict[bool, dict[str, float]]:
    """Seconds per language highlighting every block once each way; each block is timed
    on and off back to back (`first` way first), so both see the same machine load."""
    spent = {True: dict.fromkeys(TEMPLATES, 0.0), False: dict.fromkeys(TEMPLATES, 0.0)}
    for code, lang in blocks:
        for enabled in (first, not first):
            quicklex.ENABLED = enabled
            started = time.perf_counter()
            highlight.highlight(code, lang)
            spent[enabled][lang] += time.perf_counter() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    blocks = corpus(args.blocks)
    if quicklex.probe() is not None:
        print(f"warning: {quicklex.probe()}")
    run(blocks, True)  # warm-up: lexers, formatter, rule indexes
    times: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for i in range(args.runs):
        for enabled, spent in run(blocks, first=i % 2 == 0).items():
            times[enabled].append(spent)
    lines = sum(code.count("\n") for code, _ in blocks)
    print(f"{len(blocks)} blocks, {lines} lines, {args.runs} runs each way, medians:")
    print(f"{'':12}{'quick (ms)':>12}{'pygments (ms)':>15}{'off / on':>10}")
    for lang in [*TEMPLATES, "all"]:
        on, off = (statistics.median(sum(t.values()) if lang == "all" else t[lang]
                                     for t in times[enabled]) for enabled in (True, False))
        print(f"{lang:12}{on * 1000:12.1f}{off * 1000:15.1f}{off / on:10.2f}")


if __name__ == "__main__":
    main()
