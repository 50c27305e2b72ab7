"""`deck preview` in a real browser: Chromium (Debian's) driven by Playwright.

Every card is there with both sides, the page fits a phone in day and night mode, formulas
render as visible MathML and cannot run script, text and highlighted code meet WCAG AA
contrast in both modes (and the check does fail for the CSS naive genanki users ship),
transparent images stay visible at night, the toolbar works, and each card links to its
source line (any file name) and shows its findings and its status since the lock.
"""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from generator import build, preview
from generator.notetypes import CARD_CSS
from generator.parse import parse_file
from playwright import sync_api
from tests.conftest import ROOT, copy_seed, make_project

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NOW = 1_800_000_000
PHONE = 390
ARTIFACTS = ROOT / "build" / "test-artifacts"
AA = 4.5

if not Path(CHROMIUM).exists():  # a missing browser fails the run: it is never a pass
    raise RuntimeError(f"no Chromium at {CHROMIUM}: run 'make test' (it installs Debian's "
                       "chromium) or 'apt-get install chromium'")


# --- projects -----------------------------------------------------------------------------

LONG_LINE = "result = " + " + ".join(f"value_{i:03d}" for i in range(30))
assert len(LONG_LINE) >= 300
WIDE_TABLE = ("| " + " | ".join(f"column heading {i}" for i in range(14)) + " |\n"
              + "|" + "---|" * 14 + "\n"
              + "| " + " | ".join(f"cell value {i}" for i in range(14)) + " |\n")
LONG_URL = "https://example.com/" + "a" * 300
WIDE_FORMULA = " + ".join(f"x_{{{i}}}^{{2}}" for i in range(1, 61))

WIDE_SOURCE = f"""# Wide

## A very long line of code

```python
{LONG_LINE}
```

## A wide table

{WIDE_TABLE}
## A long unbroken word

See {LONG_URL} for details.

## A wide display formula

$$s = {WIDE_FORMULA}$$

## A wide display formula inside a paragraph

It reads $$t = {WIDE_FORMULA.replace("x_", "y_")}$$ in the middle of a sentence.
"""

CODE = {
    "python": '@dataclass\nclass Point:\n    """A point."""\n    x: int = 0  # the x\n\n'
              'def norm(p: Point) -> float:\n    return (p.x ** 2) ** 0.5 if p else None\n'
              'print(f"{norm(Point(3))!r}", r"\\d+", b"\\x00", 0x1F, 1e-3, True)\n',
    "javascript": "// add\nconst add = (a, b) => a + b;\nclass Foo extends Bar {\n"
                  "  constructor() { super(); this.re = /ab+c/gi; }\n}\n"
                  "let s = `t ${add(1, 2.5)}`; export default null;\n",
    "rust": "use std::collections::HashMap;\n/// Doc comment\n#[derive(Debug)]\n"
            "struct S<'a> { name: &'a str }\nfn main() {\n"
            "    let mut m: HashMap<u32, String> = HashMap::new();\n"
            "    m.insert(1, \"one\".to_string());\n    println!(\"{:?}\", m);\n"
            "    let c = 'x'; let n = 42u8 as i64;\n}\n",
    "bash": "#!/bin/bash\n# comment\nfor f in *.md; do\n  echo \"file: $f\" | grep -q x && "
            "exit 1\ndone\nexport PATH=\"$HOME/bin:$PATH\"\nls -la ${DIR:-.} > /dev/null 2>&1\n",
    "sql": "-- users\nSELECT u.id, COUNT(*) AS n FROM users u\n"
           "LEFT JOIN orders o ON o.user_id = u.id WHERE u.name LIKE 'A%' AND u.age > 18\n"
           "GROUP BY u.id HAVING n > 2 ORDER BY n DESC;\n",
    "json": '{"name": "deck", "version": 1.5, "ok": true, "none": null, "list": [1, "two"]}\n',
    "diff": "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n"
            " context\n-old line\n+new line\n",
    "html": '<!DOCTYPE html>\n<!-- comment -->\n<div class="box" id=main>\n'
            '  <a href="https://example.com">link &amp; more</a>\n</div>\n',
    "css": "/* style */\n@media (max-width: 600px) {\n  .box > a:hover, #main::before {\n"
           "    color: #ff0000 !important; margin: 0 auto; width: calc(100% - 2em);\n  }\n}\n",
    "go": "package main\n\nimport \"fmt\"\n\n// main runs\nfunc main() {\n"
          "\tch := make(chan int, 3)\n\tvar x float64 = 1.5\n\tfmt.Println(`raw`, x, <-ch, nil)\n}\n",
    "c++": "#include <iostream>\n#define N 10\ntemplate <typename T>\nT twice(T v) { return v * 2; }\n"
           "int main() {\n  // comment\n  std::cout << twice(N) << 'c' << \"s\\n\" << std::endl;\n"
           "  return 0;\n}\n",
}
EXTRA_CODE = {  # a few more token kinds: traceback, console prompts, YAML, TOML, plain text
    "pycon": ">>> 1 / 0\nTraceback (most recent call last):\n  File \"<stdin>\", line 1, in "
             "<module>\nZeroDivisionError: division by zero\n",
    "console": "$ pip install deck\nSuccessfully installed deck-0.1\n",
    "yaml": "# config\nkey: value\nlist:\n  - 1\n  - \"two\"\nflag: true\n",
    "toml": "[project]\nname = \"deck\"  # name\nversion = \"0.1\"\n",
    "": "plain text in a fence without a language\n",
}


def _code_cards(code: dict[str, str]) -> str:
    return "".join(f"## Code in {lang or 'plain text'}\n\nHere is `inline {lang or 'text'}` code.\n\n"
                   f"```{lang}\n{text}```\n\n" for lang, text in code.items())


LANGUAGE_SOURCES = {
    "systems.md": "# Systems\n\n" + _code_cards(
        {k: CODE[k] for k in ("rust", "go", "c++", "bash", "diff")}),
    "web.md": "# Web\n\n" + _code_cards(
        {k: CODE[k] for k in ("python", "javascript", "sql", "json", "html", "css")}),
    "misc.md": "# Misc\n\n" + _code_cards(EXTRA_CODE) + (
        "## The capital of France is {{c1::Paris}}, of Italy {{c2::Rome}}\n"
        "<!-- type: cloze -->\n\nA cloze card's extra text.\n\n"
        "## A reversed card\n<!-- type: reversed -->\n\nBack of the reversed card, with a "
        "**bold** word, an *emphasis*, a [link](https://example.com) and ~~strike~~.\n\n"
        "## A table and a list\n\n| Name | Value |\n|---|---|\n| `a` | 1 |\n| b | 2 |\n\n"
        "- one\n- two with `code`\n\n1. first\n2. second\n\n> a quote\n\n"
        "## Inline math\n\nThe formula $e^{i\\pi} + 1 = 0$ and \\(a^2 + b^2 = c^2\\).\n"),
}


# --- measurement shared by the contrast tests ----------------------------------------------

CONTRAST_JS = r"""
() => {
  function parse(text) {
    const m = /rgba?\(([^)]*)\)/.exec(text);
    if (!m) { return null; }
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function over(top, below) {
    const a = top.a;
    return {r: top.r * a + below.r * (1 - a), g: top.g * a + below.g * (1 - a),
            b: top.b * a + below.b * (1 - a), a: 1};
  }
  // the first opaque background-color up the ancestors, with every translucent layer
  // above it composited in order (the canvas is white when nothing is opaque)
  function background(el) {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0) {
        layers.push(bg);
        if (bg.a >= 1) { break; }
      }
    }
    let base = {r: 255, g: 255, b: 255, a: 1};
    if (layers.length && layers[layers.length - 1].a >= 1) { base = layers.pop(); }
    for (let i = layers.length - 1; i >= 0; i--) { base = over(layers[i], base); }
    return base;
  }
  function luminance(c) {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function hex(c) {
    return "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  }
  function ownText(el) {
    let text = "";
    el.childNodes.forEach((n) => { if (n.nodeType === 3) { text += n.nodeValue; } });
    return text;
  }
  function visible(el) {
    return el.getClientRects().length > 0 && getComputedStyle(el).visibility === "visible";
  }
  const TOKEN = "pre.highlight span[class]";
  const TEXT = "p, li, .front, .back, .source, code, td, th";
  const out = [];
  const seen = new Set();
  document.querySelectorAll(".side > .card").forEach((card) => {
    const elements = [card, ...card.querySelectorAll("*")];
    elements.forEach((el) => {
      if (seen.has(el)) { return; }
      seen.add(el);
      const token = el.matches(TOKEN);
      const own = ownText(el).trim();
      const listed = !token && el.matches(TEXT) && !el.matches("pre.highlight code") &&
        el.textContent.trim() !== "";
      if (!own && !listed) { return; }
      if (!visible(el)) { return; }
      const style = getComputedStyle(el);
      const bg = background(el);
      let fg = parse(style.color);
      if (fg.a < 1) { fg = over(fg, bg); }
      const l1 = luminance(fg), l2 = luminance(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const article = el.closest("article.preview-card");
      out.push({
        kind: token ? "token" : "text",
        cls: token ? el.getAttribute("class")
                   : el.tagName.toLowerCase() + (el.classList.length ? "." + [...el.classList].join(".") : ""),
        text: (own || el.textContent).trim().slice(0, 40),
        color: hex(fg), background: hex(bg), ratio: Math.round(ratio * 100) / 100,
        card: article ? article.id : "",
        link: el.closest("a") !== null,
      });
    });
  });
  return out;
}
"""


def measure_contrast(page, night: bool) -> list[dict]:
    """Every visible text-bearing element of every card side, with its contrast ratio."""
    page.evaluate("(on) => window.deckPreview.night(on)", night)
    mode = page.evaluate("document.body.dataset.mode")
    assert mode == ("night" if night else "day")
    records = page.evaluate(CONTRAST_JS)
    for record in records:
        record["mode"] = mode
    return records


def lowest(records: list[dict], kind: str | None = None) -> dict:
    chosen = [r for r in records if kind is None or r["kind"] == kind]
    assert chosen, f"nothing measured ({kind})"
    return min(chosen, key=lambda r: r["ratio"])


def failures(records: list[dict]) -> list[dict]:
    return [r for r in records if r["ratio"] < AA]


def _show(records: list[dict], limit: int = 12) -> str:
    unique = {}
    for r in sorted(records, key=lambda r: r["ratio"]):
        unique.setdefault((r["mode"], r["kind"], r["cls"], r["color"], r["background"]), r)
    return "\n".join(f"  {r['mode']:5} {r['kind']:5} {r['ratio']:5.2f} {r['cls']!r} "
                     f"{r['color']} on {r['background']} ({r['card']}: {r['text']!r})"
                     for r in list(unique.values())[:limit])


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """open_page(index, width=1200) -> a loaded page in its own context; `page.errors` and
    `page.dialogs` collect script errors and dialogs from the start."""
    contexts = []

    def load(index: Path, width: int = 1200, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(index.as_uri())
        page.wait_for_function("window.deckPreview !== undefined")
        page.errors = errors
        page.dialogs = dialogs
        return page

    yield load
    for context in contexts:
        context.close()


def _preview(root: Path):
    return build.write_preview(build.load_project(cwd=root), now=NOW)


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    root = copy_seed(tmp_path_factory.mktemp("seed"))
    return root, _preview(root)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("wide"), {"wide.md": WIDE_SOURCE})
    return root, _preview(root)


@pytest.fixture(scope="module")
def languages(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("languages"), LANGUAGE_SOURCES)
    result = _preview(root)
    assert result.diagnostics == ()
    return root, result


def _visible_cards(page) -> int:
    return page.locator("article.preview-card:visible").count()


# --- 1. every card, both sides -------------------------------------------------------------

def _plain(fragment: str) -> str:
    """Rendered field HTML as the text a reader sees, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", fragment)
    return " ".join(html.unescape(text).split())


def _rough(markdown: str) -> str:
    """Markdown source as text, roughly: no backticks, emphasis marks or link targets."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"[`*]|(?<!\w)_|_(?!\w)", "", text)
    return " ".join(text.split())


def test_every_card_has_both_sides(seed, open_page):
    root, result = seed
    page = open_page(result.index)
    assert page.errors == []
    articles = page.locator("article.preview-card")
    source = root / "source" / "march-2025-flashcards.md"
    parsed, found = parse_file(source.name, source.read_text(encoding="utf-8"))
    assert found == ()
    assert result.cards == len(parsed) == 24
    assert articles.count() == result.sides == 24
    assert page.locator("#count").text_content() == "24 of 24 cards"

    shown = page.evaluate("""() => [...document.querySelectorAll('article.preview-card')].map(
        (a) => ({where: a.querySelector('a.where').textContent,
                 question: a.querySelector('.side.question > .card').innerText,
                 answer: a.querySelector('.side.answer > .card').innerText}))""")
    by_where = {s["where"]: s for s in shown}
    assert len(by_where) == 24
    compiled = build.compile_project(build.load_project(cwd=root), NOW)
    fronts = {f"{n.card.pos.path}:{n.card.pos.line}": n.rendered.fields[0]
              for n in compiled.notes}
    for card in parsed:
        where = f"{card.pos.path}:{card.pos.line}"
        assert where in by_where, f"no card for {where}"
        side = by_where[where]
        question = " ".join(side["question"].split())
        answer = " ".join(side["answer"].split())
        assert question and answer, f"{where}: an empty side"
        heading = card.front.split("\n")[0]
        assert _rough(heading) in question, (where, heading, question)
        assert _plain(fronts[where]) in question, (where, fronts[where], question)
        assert _rough(heading) in answer, f"{where}: the answer does not repeat the front"
        assert len(answer) > len(question), f"{where}: the answer shows no back"


# --- 2. phone width ------------------------------------------------------------------------

def _page_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


@pytest.mark.parametrize("night", [False, True], ids=["day", "night"])
def test_phone_width_fits(seed, wide, open_page, night):
    for _, result in (seed, wide):
        page = open_page(result.index, width=PHONE)
        page.evaluate("(on) => { deckPreview.phone(true); deckPreview.night(on); }", night)
        assert page.evaluate("document.body.dataset.width") == "phone"
        width = _page_width(page)
        wider = page.evaluate("""(limit) => [...document.querySelectorAll('#toolbar, #cards *')]
            .filter((el) => el.getBoundingClientRect().right > limit + 0.5)
            .slice(0, 5).map((el) => el.tagName + '.' + el.className + ' ' +
                              Math.round(el.getBoundingClientRect().right))""", PHONE)
        assert width <= PHONE, f"{result.index}: page is {width}px wide; overflowing: {wider}"

    _, result = wide
    page = open_page(result.index, width=PHONE)
    page.evaluate("(on) => { deckPreview.phone(true); deckPreview.night(on); }", night)
    code = page.evaluate("""() => {
        const pre = [...document.querySelectorAll('.side.answer pre.highlight')]
            .find((el) => el.textContent.includes('value_029'));
        const s = getComputedStyle(pre);
        return {scroll: pre.scrollWidth, client: pre.clientWidth, overflow: s.overflowX,
                right: pre.getBoundingClientRect().right};
    }""")
    assert code["scroll"] > code["client"], code
    assert code["overflow"] in ("auto", "scroll"), code
    assert code["right"] <= PHONE, code
    # the table, the URL and the formula stay inside their card too
    boxes = page.evaluate("""() => {
        const answer = (text) => [...document.querySelectorAll('.side.answer > .card')]
            .find((el) => el.textContent.includes(text));
        const right = (el) => Math.round(el.getBoundingClientRect().right);
        const table = answer('column heading 13');
        const url = answer('aaaaaaaaaa');
        const formula = [...document.querySelectorAll('.side.answer math')]
            .find((m) => m.textContent.includes('60'));
        const box = formula ? (formula.closest('.math') || formula) : null;
        const scrolls = (el) => el.scrollWidth > el.clientWidth &&
            ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
        const inline = [...document.querySelectorAll('.side.answer p math')]
            .find((m) => m.textContent.includes('y'));
        const inlineBox = inline ? inline.closest('.math') : null;
        return {table: right(table), url: right(url), urlScroll: url.scrollWidth - url.clientWidth,
                formula: box ? right(box) : null,
                formulaScroll: box ? scrolls(formula) || scrolls(box) : null,
                tableScroll: scrolls(table.querySelector('.table')),
                inline: inlineBox ? right(inlineBox) : null,
                inlineScroll: inlineBox ? scrolls(inline) || scrolls(inlineBox) : null};
    }""")
    # a `$$...$$` inside a paragraph gets its own box that scrolls, as one on its own does
    assert boxes["inline"] is not None and boxes["inline"] <= PHONE, boxes
    assert boxes["inlineScroll"], f"the formula in a paragraph does not scroll: {boxes}"
    assert boxes["formula"] is not None, "the wide formula did not render as MathML"
    assert max(boxes["table"], boxes["url"], boxes["formula"]) <= PHONE, boxes
    assert boxes["urlScroll"] <= 0, f"the long URL overflows its card: {boxes}"
    assert boxes["tableScroll"], f"the wide table does not scroll inside its box: {boxes}"
    assert boxes["formulaScroll"], f"the wide formula does not scroll inside its box: {boxes}"


# --- 3. formulas ---------------------------------------------------------------------------

def test_formulas_render_as_visible_mathml(seed, open_page):
    _, result = seed
    page = open_page(result.index)
    boxes = page.evaluate("""() => [...document.querySelectorAll('.side .card math')].map((m) => {
        const r = m.getBoundingClientRect();
        return {text: m.textContent, width: r.width, height: r.height};
    })""")
    assert len(boxes) >= 5, boxes  # logarithms, Precision, Recall, harmonic mean, F1
    for box in boxes:
        assert box["width"] > 0 and box["height"] > 0, box
    texts = " ".join(b["text"] for b in boxes)
    for word in ("Precision", "Recall", "log"):
        assert word in texts, texts
    raw = page.evaluate("""() => {
        const found = [];
        document.querySelectorAll('.side .card').forEach((card) => {
            const walk = document.createTreeWalker(card, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                const t = n.nodeValue;
                if (t.includes('$') || t.includes('\\\\(') || t.includes('\\\\[')) {
                    found.push(t.slice(0, 60));
                }
            }
        });
        return found;
    }""")
    assert raw == []
    assert page.locator(".math-source").count() == 0


def test_unrenderable_formula_shows_its_latex(tmp_path, open_page):
    root = make_project(tmp_path, {"m.md": "# M\n\n## Unknown macro\n\nIt is "
                                           "$\\unknownmacro{x}$ here.\n"})
    result = _preview(root)
    warnings = [d for d in result.diagnostics if d.code == "W203"]
    assert len(warnings) == 1, result.diagnostics
    assert "\\unknownmacro{x}" in warnings[0].message
    assert warnings[0].pos.path == "m.md" and warnings[0].pos.line == 3
    page = open_page(result.index)
    sources = page.evaluate("""() => [...document.querySelectorAll('.side .card .math-source')]
        .map((el) => ({text: el.textContent, width: el.getBoundingClientRect().width,
                       height: el.getBoundingClientRect().height}))""")
    assert sources, "no .math-source shown"
    for shown in sources:
        assert "\\unknownmacro{x}" in shown["text"], shown
        assert shown["width"] > 0 and shown["height"] > 0, shown
    # the card says so, too
    assert "W203" in page.locator("article.preview-card .findings").inner_text()


SCRIPT_IN_FORMULAS = (
    "# S\n\n## Script in formulas\n\n"
    "Inline $\\text{<svg/onload=alert(1)>}$, $\\text{<svg/onload=window.pwned=1>}$ and "
    "$\\text{<img src=x onerror=window.pwned=2>}$.\n\n"
    "$$\\href{javascript:window.pwned=3}{click} + \\href{https://example.com}{away}$$\n")


def test_formulas_cannot_run_script_or_link(tmp_path, open_page):
    # latex2mathml copies `\text{}` verbatim and `\href` into an attribute
    root = make_project(tmp_path, {"s.md": SCRIPT_IN_FORMULAS})
    result = _preview(root)
    assert not [d for d in result.diagnostics if d.code == "W203"], result.diagnostics
    page = open_page(result.index)
    for word in ("click", "away"):  # the linked words, letter by letter in <mi>s
        box = page.evaluate("""(word) => {
            const row = [...document.querySelectorAll('.side.answer math mrow')]
                .find((el) => el.textContent === word);
            const r = row.getBoundingClientRect();
            return {x: r.x + r.width / 2, y: r.y + r.height / 2};
        }""", word)
        page.mouse.click(box["x"], box["y"])
    page.wait_for_timeout(300)  # time for a handler or a navigation to run
    assert page.dialogs == [] and page.evaluate("window.pwned") is None
    assert page.url == result.index.as_uri() and page.errors == []
    found = page.evaluate("""() => {
        const MATHML = 'http://www.w3.org/1998/Math/MathML';
        const inside = [...document.querySelectorAll('.side.answer math, .side.answer math *')];
        return {
            foreign: inside.filter((el) => el.namespaceURI !== MATHML).map((el) => el.tagName),
            attributes: inside.flatMap((el) => [...el.attributes].map((a) => a.name))
                .filter((name) => name === 'href' || name === 'src' || name.startsWith('on')),
            shown: [...document.querySelectorAll('.side.answer math')].map((m) => ({
                text: m.textContent.replace(/\\u00a0/g, ' '),
                width: m.getBoundingClientRect().width})),
        };
    }""")
    assert found["foreign"] == [] and found["attributes"] == [], found
    texts = [m["text"] for m in found["shown"]]
    assert texts[:3] == ["<svg/onload=alert(1)>", "<svg/onload=window.pwned=1>",
                         "<img src=x onerror=window.pwned=2>"], texts
    assert "click" in texts[3] and "away" in texts[3], texts
    assert all(m["width"] > 0 for m in found["shown"]), found["shown"]


# --- 4. contrast ---------------------------------------------------------------------------

def _record(name: str, data) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(data, indent=2), encoding="utf-8")


def test_contrast_meets_wcag_aa_day_and_night(seed, languages, open_page):
    report = {}
    bad = []
    all_tokens = {"day": [], "night": []}
    for name, (_, result) in (("languages", languages), ("seed", seed)):
        page = open_page(result.index)
        for night in (False, True):
            records = measure_contrast(page, night)
            mode = "night" if night else "day"
            tokens = [r for r in records if r["kind"] == "token"]
            texts = [r for r in records if r["kind"] == "text"]
            assert texts, f"{name} {mode}: no body text measured"
            if name == "languages":
                classes = {r["cls"] for r in tokens}
                assert len(classes) >= 25, f"only {len(classes)} token classes: {classes}"
                tags = {r["cls"] for r in texts}
                for kind in ("p", "li", "div.front", "div.back", "div.source", "code",
                             "td", "th", "span.cloze", "strong", "em"):
                    assert kind in tags, f"{kind} not measured: {sorted(tags)}"
            all_tokens[mode] += tokens
            plain = [r for r in texts if not r["link"]]
            report[f"{name} {mode}"] = {
                "measured": len(records), "tokens": len(tokens),
                "token classes": len({r["cls"] for r in tokens}),
                "lowest token": lowest(tokens) if tokens else None,
                "lowest text": lowest(plain),
                "lowest link": lowest([r for r in texts if r["link"]])
                if any(r["link"] for r in texts) else None}
            # links are checked on their own, below
            bad += failures([r for r in records if not r["link"]])
    summary = {mode: lowest(tokens) for mode, tokens in all_tokens.items()}
    _record("contrast.json", {"lowest token": summary, "detail": report})
    print("\nlowest token contrast:", {m: (r["ratio"], r["cls"]) for m, r in summary.items()})
    assert not bad, f"{len(bad)} elements below {AA}:1\n{_show(bad)}"


def test_links_in_cards_meet_contrast_day_and_night(languages, open_page):
    _, result = languages
    page = open_page(result.index)
    links = []
    for night in (False, True):
        links += [r for r in measure_contrast(page, night) if r["link"]]
    assert {r["mode"] for r in links} == {"day", "night"}, links
    assert not failures(links), f"links below {AA}:1\n{_show(failures(links))}"


# --- 5. the contrast check can fail --------------------------------------------------------

def _without_night_rules(css: str) -> str:
    rules = re.findall(r"[^{}]+\{[^{}]*\}", css)
    return "".join(rule for rule in rules
                   if "nightMode" not in rule and "night_mode" not in rule)


def _without_card_colours(css: str) -> str:
    """The `.card` rule without its colour and background: the host's colours show."""
    def strip(match: re.Match) -> str:
        return re.sub(r"\s*(background-)?color:[^;}]*;", "", match.group())

    return re.sub(r"(?m)^\.card \{[^}]*\}", strip, css, count=1)


def naive_css(card_colours: bool) -> str:
    """What naive genanki users ship: Pygments' default style alone, and card CSS without
    night-mode rules; with or without day colours hard-coded on `.card`."""
    from pygments.formatters import HtmlFormatter

    card = _without_night_rules(CARD_CSS)
    if not card_colours:
        card = _without_card_colours(card)
    return card + HtmlFormatter(style="default").get_style_defs("pre.highlight") + "\n"


def _naive_page(languages, folder: Path, card_colours: bool) -> Path:
    root, _ = languages
    project = build.load_project(cwd=root)
    compiled = build.compile_project(project, NOW)
    css = naive_css(card_colours)
    assert "nightMode" not in css and "night_mode" not in css
    text, _, _ = preview.page(compiled.notes, compiled.diagnostics, css, project.source,
                              "naive")
    return preview.write(folder, text, compiled.media)


def test_contrast_check_fails_for_naive_css(languages, tmp_path, open_page):
    # Card CSS with no colours of its own: in night mode the card takes the host's light
    # text on a dark ground (as Anki's night mode gives), and Pygments' default style,
    # made for a light ground, leaves tokens it does not colour in that light text on its
    # #f8f8f8 code box.
    page = open_page(_naive_page(languages, tmp_path / "naive", card_colours=False))
    day = measure_contrast(page, False)
    night = measure_contrast(page, True)
    bad = failures(night)
    _record("contrast-naive.json", {"night failures": len(bad), "lowest day": lowest(day),
                                    "lowest night": lowest(night), "examples": bad[:40]})
    assert not failures(day), _show(failures(day))
    assert bad, f"the naive CSS passes in night mode?\n{_show(night)}"
    assert any(r["kind"] == "token" for r in bad), _show(bad)
    assert lowest(night)["ratio"] < 1.5, _show(bad)


def test_naive_css_with_card_colours_ignores_night_mode(languages, tmp_path, open_page):
    # The other naive variant keeps `.card { color; background-color }` for the day: it
    # passes the contrast check only because night mode changes nothing, the card stays white.
    page = open_page(_naive_page(languages, tmp_path / "naive", card_colours=True))
    night = measure_contrast(page, True)
    assert not failures(night), _show(failures(night))
    grounds = page.evaluate("""() => [...new Set([...document.querySelectorAll(
        '.side > .card.nightMode')].map((el) => getComputedStyle(el).backgroundColor))]""")
    assert grounds == ["rgb(255, 255, 255)"]
    ours = open_page(languages[1].index)
    ours.evaluate("deckPreview.night(true)")
    assert ours.evaluate("""getComputedStyle(document.querySelector('.side > .card'))
        .backgroundColor""") == "rgb(13, 17, 23)"


# --- 6. screenshots and toolbar ------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"

MEAN_LUMINANCE_JS = """async (data) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + data;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width; canvas.height = img.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) {
        sum += 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
    }
    return sum / (px.length / 4);
}"""


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_screenshots_day_and_night(seed, open_page):
    _, result = seed
    page = open_page(result.index, width=PHONE)
    page.evaluate("deckPreview.phone(true)")
    card = page.locator("article.preview-card", has_text="view(-1, 28*28)")
    assert card.count() == 1
    assert card.locator(".side.answer pre.highlight").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {}
    for mode in ("day", "night"):
        page.evaluate("(on) => deckPreview.night(on)", mode == "night")
        path = ARTIFACTS / f"preview-{mode}.png"
        card.screenshot(path=str(path), animations="disabled")
        data = path.read_bytes()
        width, height = _png_size(data)
        assert 200 <= width <= PHONE and height >= 200, (mode, width, height)
        assert len(data) > 5_000, (mode, len(data))
        shots[mode] = data
    assert shots["day"] != shots["night"]
    day, night = (page.evaluate(MEAN_LUMINANCE_JS, base64.b64encode(shots[m]).decode())
                  for m in ("day", "night"))
    assert day > 150 > 60 > night, (day, night)


def _transparent_diagram(size: int = 48) -> bytes:
    """An RGBA PNG: a black cross, 4 px thick, on a fully transparent ground."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(b"\0" + b"".join(
        b"\0\0\0\xff" if abs(x - size // 2) < 2 or abs(y - size // 2) < 2 else b"\0\0\0\0"
        for x in range(size)) for y in range(size))
    return (PNG + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_transparent_image_gets_a_light_backdrop_at_night(tmp_path, open_page):
    root = make_project(tmp_path, {"d.md": "# D\n\n## A diagram\n\n![cross](cross.png)\n"},
                        media={"media/cross.png": _transparent_diagram()})
    page = open_page(_preview(root).index)
    image = page.locator(".side.answer img")
    assert image.count() == 1
    page.wait_for_function("document.querySelector('.side.answer img').complete")
    looks = {}
    for mode in ("day", "night"):
        page.evaluate("(on) => deckPreview.night(on)", mode == "night")
        shot = image.screenshot(animations="disabled")
        looks[mode] = {
            "background": page.evaluate(
                "getComputedStyle(document.querySelector('.side.answer img')).backgroundColor"),
            "card": page.evaluate(
                "getComputedStyle(document.querySelector('.side.answer > .card'))"
                ".backgroundColor"),
            "luminance": page.evaluate(MEAN_LUMINANCE_JS, base64.b64encode(shot).decode())}
    # the day look is unchanged: the image shows the white card through it
    assert looks["day"]["background"] == "rgba(0, 0, 0, 0)", looks
    assert looks["day"]["card"] == "rgb(255, 255, 255)", looks
    # at night the card is dark, the image's own ground light, so the black cross shows
    assert looks["night"]["card"] == "rgb(13, 17, 23)", looks
    rgb = [int(v) for v in re.findall(r"\d+", looks["night"]["background"])]
    assert len(rgb) == 3 and min(rgb) >= 230, looks
    assert looks["night"]["luminance"] > 150 and looks["day"]["luminance"] > 150, looks


def test_toolbar(seed, languages, open_page):
    _, result = seed
    page = open_page(result.index)
    cards = page.locator(".side > .card")
    assert page.evaluate("document.body.dataset.mode") == "day"
    page.click("#mode")
    assert page.evaluate("document.body.dataset.mode") == "night"
    assert page.locator(".side > .card.nightMode.night_mode").count() == cards.count() == 48
    assert page.get_attribute("#mode", "aria-pressed") == "true"
    page.click("#mode")
    assert page.locator(".side > .card.nightMode").count() == 0
    assert page.locator(".side > .card.night_mode").count() == 0

    page.fill("#search", "Sigmoid")
    assert _visible_cards(page) == 1
    assert page.locator("#count").text_content() == "1 of 24 cards"
    assert "Binary Classification" in page.locator("article.preview-card:visible").inner_text()
    page.fill("#search", "")
    assert _visible_cards(page) == 24

    _, result = languages
    page = open_page(result.index)
    total = page.locator("article.preview-card").count()
    decks = page.eval_on_selector_all("#deck-filter option", "(os) => os.map((o) => o.value)")
    assert decks == ["", "Misc", "Systems", "Web"]
    page.select_option("#deck-filter", "Web")
    web = page.locator("article.preview-card[data-deck='Web']").count()
    assert web == 6 and _visible_cards(page) == web
    assert page.locator("#count").text_content() == f"{web} of {total} cards"
    page.fill("#search", "sql")
    assert _visible_cards(page) == 1
    page.fill("#search", "")
    page.select_option("#deck-filter", "")
    assert _visible_cards(page) == total
    assert page.errors == []


# --- 7. source links, findings and status badges -------------------------------------------

def test_source_links(seed, open_page):
    root, result = seed
    page = open_page(result.index)
    links = page.eval_on_selector_all(
        "article.preview-card a.where", "(as) => as.map((a) => [a.textContent, a.href])")
    assert len(links) == 24
    source = (root / "source").resolve()
    for where, href in links:
        path, line = where.rsplit(":", 1)
        assert path == "march-2025-flashcards.md" and line.isdigit(), where
        assert href.startswith("vscode://file/"), href
        assert href.endswith(f":{line}:1"), (where, href)
        assert href[len("vscode://file/"):].startswith(source.as_posix().lstrip("/")), href
        lines = (source / path).read_text(encoding="utf-8").split("\n")
        assert lines[int(line) - 1].startswith("## "), (where, lines[int(line) - 1])


def test_source_links_encode_the_file_name(tmp_path, open_page):
    from urllib.parse import unquote, urlsplit

    name = "odd #1? 50%41 off.md"  # `%41` would decode to `A` if left as it is
    root = make_project(tmp_path, {name: "# O\n\n## Question\n\nanswer\n"})
    page = open_page(_preview(root).index)
    link = page.locator("article.preview-card a.where")
    assert link.text_content() == f"{name}:3"
    href = link.evaluate("(a) => a.href")
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == (
        "vscode", "file", "", ""), href
    target = (root / "source" / name).resolve().as_posix()
    assert unquote(parts.path) == f"{target}:3:1", href


def test_findings_and_status_badges(tmp_path, open_page):
    from tests.conftest import build_project

    root = make_project(tmp_path, {"d.md": (
        "# D\n\n## Stays the same\n\nsame\n\n## Will change\n\nbefore\n")})
    build_project(root, NOW)
    (root / "source" / "d.md").write_text(
        "# D\n\n## Stays the same\n\nsame\n\n## Will change\n\nafter\n\n"
        "## Brand new\n\nhello\n\n## Typo language\n\n```pyhton\nprint(1)\n```\n",
        encoding="utf-8")
    result = _preview(root)
    w301 = [d for d in result.diagnostics if d.code == "W301"]
    assert len(w301) == 1, result.diagnostics
    page = open_page(result.index)
    state = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        'article.preview-card')].map((a) => [a.querySelector('.front').textContent.trim(), {
            status: a.dataset.status,
            badges: [...a.querySelectorAll('.badge')].map((b) => [b.className, b.textContent]),
            findings: a.querySelector('.findings') ? a.querySelector('.findings').innerText : '',
            visible: [...a.querySelectorAll('.badge, .findings')].every(
                (el) => el.getBoundingClientRect().width > 0)}]))""")
    assert {front: s["status"] for front, s in state.items()} == {
        "Stays the same": "unchanged", "Will change": "changed", "Brand new": "new",
        "Typo language": "new"}
    assert state["Stays the same"]["badges"] == [] and state["Stays the same"]["findings"] == ""
    assert state["Will change"]["badges"] == [["badge badge-changed", "changed"]]
    assert state["Brand new"]["badges"] == [["badge badge-new", "new"]]
    typo = state["Typo language"]
    assert ["badge badge-warning", "1 finding"] in typo["badges"], typo
    assert ["badge badge-new", "new"] in typo["badges"], typo
    assert "W301" in typo["findings"] and w301[0].message in typo["findings"], typo
    assert all(s["visible"] for s in state.values()), state
