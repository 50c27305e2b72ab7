"""`deck preview`: every card, question and answer, as Anki will show it, in one offline page.

Cards are rendered with the note types' own templates and CSS; formulas become MathML so
the page needs no network. The page is a pure function of the compiled build.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from generator import atomic, mathml
from generator.cloze import cloze_number, cloze_numbers
from generator.diagnostics import Diagnostic
from generator.model import Kind, Note
from generator.notetypes import BY_KIND, NoteType

_FIELD = re.compile(r"\{\{([#/^]?)([^{}]+?)\}\}")
_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.S)


@dataclass(frozen=True)
class Side:
    """One card of a note: its question and answer HTML."""

    note: Note
    template: str
    question: str
    answer: str


def render_template(template: str, fields: dict[str, str], cloze: int | None,
                    answer: bool) -> str:
    """Anki's template subset used by our note types: `{{Field}}`, `{{cloze:Field}}`,
    `{{#Field}}...{{/Field}}`."""
    def section(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        return body if fields.get(name, "").strip() else ""

    text = re.sub(r"\{\{#([^{}]+)\}\}(.*?)\{\{/\1\}\}", section, template, flags=re.S)

    def field(match: re.Match) -> str:
        name = match.group(2).strip()
        if name.startswith("cloze:"):
            return _cloze(fields.get(name[6:], ""), cloze or 1, answer)
        return fields.get(name, "")

    return _FIELD.sub(field, text)


def _cloze(text: str, active: int, answer: bool) -> str:
    def one(match: re.Match) -> str:
        number, content, hint = cloze_number(match.group(1)), match.group(2), match.group(3)
        if number != active:
            return content
        if answer:
            return f'<span class="cloze">{content}</span>'
        return f'<span class="cloze">[{hint or "..."}]</span>'

    return _CLOZE.sub(one, text)


def sides(note: Note) -> list[Side]:
    notetype: NoteType = BY_KIND[note.card.kind]
    fields = dict(zip((name for name, _ in notetype.fields), note.rendered.fields))
    out = []
    if note.card.kind is Kind.CLOZE:
        template = notetype.templates[0]
        numbers = cloze_numbers(fields["Text"]) or [1]
        for n in numbers:
            out.append(Side(note, f"c{n}", render_template(template.qfmt, fields, n, False),
                            render_template(template.afmt, fields, n, True)))
        return out
    for template in notetype.templates:
        question = render_template(template.qfmt, fields, None, False)
        answer = render_template(template.afmt, {**fields, "FrontSide": question}, None, True)
        out.append(Side(note, template.name, question, answer))
    return out


def page(notes: tuple[Note, ...], diagnostics: tuple[Diagnostic, ...], css: str,
         source_dir: Path, title: str, live: bool = False
         ) -> tuple[str, int, list[Diagnostic]]:
    """The preview page, how many cards it shows, and warnings for formulas it could not
    render."""
    findings = _findings_by_card(notes, diagnostics)
    warnings: list[Diagnostic] = []
    articles = []
    for index, note in enumerate(notes):
        card = note.card
        failed: list[str] = []
        rendered = [(s, _media(mathml.replace_math(s.question, failed)),
                     _media(mathml.replace_math(s.answer, failed))) for s in sides(note)]
        own = list(findings.get(index, ()))
        for latex in dict.fromkeys(failed):
            warning = Diagnostic(card.pos, "W203", f"the preview cannot render the formula "
                                 f"'{latex}'; it shows the LaTeX (Anki's MathJax may render it)")
            warnings.append(warning)
            own.append(warning)
        for number, (side, question, answer) in enumerate(rendered):
            articles.append(_article(note, side, question, answer, own, source_dir,
                                     f"card-{index + 1}-{number + 1}", len(rendered)))
    decks = sorted({n.card.deck for n in notes})
    tags = sorted({t for n in notes for t in n.card.tags})
    options = "".join(f'<option value="{html.escape(d)}">{html.escape(d)}</option>'
                      for d in decks)
    tag_options = "".join(f'<option value="{html.escape(t)}">{html.escape(t)}</option>'
                          for t in tags)
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: preview</title>
<style>
{css}</style>
<style>
{_CHROME_CSS}</style>
</head>
<body class="preview-page" data-mode="day" data-width="desktop">
<header id="toolbar">
<button type="button" id="mode" aria-pressed="false">Night</button>
<button type="button" id="width" aria-pressed="false">Phone width</button>
<select id="deck-filter" aria-label="Deck"><option value="">All decks</option>{options}</select>
<select id="tag-filter" aria-label="Tag"><option value="">All tags</option>{tag_options}</select>
<input id="search" type="search" placeholder="Search" aria-label="Search">
<span id="count"></span>
</header>
<main id="cards">
{"".join(articles)}</main>
<script>
{_SCRIPT}{_LIVE_SCRIPT if live else ""}</script>
</body>
</html>
"""
    return body, len(articles), warnings


def _findings_by_card(notes, diagnostics) -> dict[int, list[Diagnostic]]:
    """Each finding belongs to the card whose lines hold it."""
    starts: dict[str, list[tuple[int, int]]] = {}
    for index, note in enumerate(notes):
        starts.setdefault(note.card.pos.path, []).append((note.card.pos.line, index))
    found: dict[int, list[Diagnostic]] = {}
    for d in diagnostics:
        owner = None
        for line, index in starts.get(d.pos.path, ()):
            if line <= d.pos.line:
                owner = index
        if owner is not None:
            found.setdefault(owner, []).append(d)
    return found


def _media(text: str) -> str:
    return re.sub(r'(<img\b[^>]*\bsrc=")(?![a-zA-Z][\w+.-]*:|/)([^"]+)"', r'\1media/\2"', text)


def _article(note: Note, side: Side, question: str, answer: str, findings, source_dir: Path,
             anchor: str, count: int) -> str:
    card = note.card
    where = f"{card.pos.path}:{card.pos.line}"
    target = (source_dir / card.pos.path).resolve()
    # `#`, `?`, `%` or a space in a file name would end or garble the URL; `:` stays for
    # Windows drive letters (`vscode://file/c:/...`), VS Code reads `:line:col` from the end
    path = quote(target.as_posix().lstrip("/"), safe="/:")
    link = html.escape(f"vscode://file/{path}:{card.pos.line}:{card.pos.col}")
    badges = []
    if note.status in ("new", "changed"):
        status = note.status.value
        badges.append(f'<span class="badge badge-{status}">{status}</span>')
    if findings:
        worst = "error" if any(d.code.startswith("E") for d in findings) else "warning"
        badges.append(f'<span class="badge badge-{worst}">{len(findings)} finding'
                      f'{"s" if len(findings) != 1 else ""}</span>')
    tags = "".join(f'<span class="tag">{html.escape(t)}</span>' for t in card.tags)
    listed = "".join(f"<li><code>{html.escape(d.code)}</code> {html.escape(d.message)} "
                     f"<span class=\"at\">line {d.pos.line}</span></li>" for d in findings)
    template = "" if count == 1 else (
        f'<span class="template">{html.escape(side.template)}</span>')
    return f"""<article class="preview-card" id="{anchor}" data-deck="{html.escape(card.deck)}" \
data-tags="{html.escape(' '.join(card.tags))}" data-status="{note.status.value}" \
data-findings="{len(findings)}">
<div class="meta"><a class="where" href="{link}" title="open in your editor">{html.escape(where)}\
</a> <span class="deck">{html.escape(card.deck)}</span> {template}{"".join(badges)}{tags}</div>
{f'<ul class="findings">{listed}</ul>' if listed else ""}<div class="sides">
<section class="side question"><h3>Question</h3><div class="card">{question}</div></section>
<section class="side answer"><h3>Answer</h3><div class="card">{answer}</div></section>
</div>
</article>
"""


def write(folder: Path, text: str, media) -> Path:
    """Write the page and the media it shows into `folder`; the page is replaced atomically."""
    (folder / "media").mkdir(parents=True, exist_ok=True)
    for item in media:
        target = folder / "media" / item.name
        if not target.exists():  # names are content hashes: an existing file is the same
            shutil.copyfile(item.source, target)
    index = folder / "index.html"
    atomic.write(index, text, durable=False)  # a page rewritten on every save: no fsync
    return index


def write_version(folder: Path, version: str) -> None:
    """For `deck watch`: the open page polls this file and reloads when it changes."""
    atomic.write(folder / "version.js",  # polled: never read half written
                 f"window.deckPreviewVersion = {json.dumps(version)};\n", durable=False)


_CHROME_CSS = """\
html, body.preview-page { margin: 0; padding: 0; }
body.preview-page { font: 15px/1.4 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  Helvetica, Arial, sans-serif; background: #eef1f4; color: #1f2328; }
body.preview-page[data-mode="night"] { background: #010409; color: #e6edf3; }
#toolbar { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 6px;
  align-items: center; padding: 8px; background: #ffffff; border-bottom: 1px solid #d0d7de; }
[data-mode="night"] #toolbar { background: #161b22; border-color: #3d444d; }
#toolbar button, #toolbar select, #toolbar input { font: inherit; max-width: 100%;
  min-width: 0; padding: 4px 8px; border: 1px solid #8c959f; border-radius: 6px;
  background: #f6f8fa; color: #1f2328; }
[data-mode="night"] #toolbar button, [data-mode="night"] #toolbar select,
[data-mode="night"] #toolbar input { background: #21262d; color: #e6edf3; border-color: #6e7681; }
#toolbar button[aria-pressed="true"] { background: #0969da; color: #ffffff; border-color: #0969da; }
#search { flex: 1 1 8em; }
#count { font-size: 13px; }
#cards { max-width: 1100px; margin: 0 auto; padding: 8px; }
body[data-width="phone"] #cards { max-width: 390px; padding: 8px 0; }
.preview-card { margin: 0 0 16px; padding: 8px; border-radius: 8px; background: #ffffff;
  border: 1px solid #d0d7de; }
[data-mode="night"] .preview-card { background: #0d1117; border-color: #3d444d; }
.preview-card[hidden] { display: none; }
.meta { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; font-size: 13px;
  margin-bottom: 6px; overflow-wrap: anywhere; }
.meta .where { color: #0550ae; font-family: ui-monospace, Menlo, Consolas, monospace; }
[data-mode="night"] .meta .where { color: #79c0ff; }
.meta .deck, .meta .template { color: #59636e; }
[data-mode="night"] .meta .deck, [data-mode="night"] .meta .template { color: #9198a1; }
.badge, .tag { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px;
  border: 1px solid currentColor; }
.badge-new { color: #1a7f37; } .badge-changed { color: #9a6700; }
.badge-error { color: #cf222e; } .badge-warning { color: #9a6700; }
[data-mode="night"] .badge-new { color: #3fb950; }
[data-mode="night"] .badge-changed, [data-mode="night"] .badge-warning { color: #d29922; }
[data-mode="night"] .badge-error { color: #f85149; }
.findings { margin: 0 0 6px; padding-left: 1.2em; font-size: 13px; overflow-wrap: anywhere; }
.findings .at { color: #59636e; }
[data-mode="night"] .findings .at { color: #9198a1; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 8px; }
body[data-width="phone"] .sides { grid-template-columns: minmax(0, 1fr); }
@media (max-width: 700px) { .sides { grid-template-columns: minmax(0, 1fr); } }
.side { min-width: 0; }
.side h3 { margin: 0 0 4px; font-size: 12px; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; color: #59636e; }
[data-mode="night"] .side h3 { color: #9198a1; }
.side > .card { margin: 0; padding: 12px; border-radius: 6px; border: 1px solid #d0d7de;
  min-width: 0; }
.side > .card.nightMode { border-color: #3d444d; }
.math-source { white-space: pre-wrap; overflow-wrap: anywhere; }
math[display="block"] { display: block; overflow-x: auto; max-width: 100%; }
"""

_SCRIPT = """\
(function () {
  var body = document.body;
  var cards = Array.prototype.slice.call(document.querySelectorAll(".preview-card"));
  function night(on) {
    body.dataset.mode = on ? "night" : "day";
    document.getElementById("mode").setAttribute("aria-pressed", on ? "true" : "false");
    document.querySelectorAll(".side > .card").forEach(function (el) {
      el.classList.toggle("nightMode", on);
      el.classList.toggle("night_mode", on);
    });
    try { localStorage.setItem("deck-preview-mode", body.dataset.mode); } catch (e) {}
  }
  function phone(on) {
    body.dataset.width = on ? "phone" : "desktop";
    document.getElementById("width").setAttribute("aria-pressed", on ? "true" : "false");
  }
  function filter() {
    var deck = document.getElementById("deck-filter").value;
    var tag = document.getElementById("tag-filter").value;
    var words = document.getElementById("search").value.toLowerCase().split(/\\s+/)
      .filter(Boolean);
    var shown = 0;
    cards.forEach(function (card) {
      var ok = (!deck || card.dataset.deck === deck ||
                card.dataset.deck.indexOf(deck + "::") === 0) &&
        (!tag || (" " + card.dataset.tags + " ").indexOf(" " + tag + " ") >= 0);
      if (ok && words.length) {
        var text = card.textContent.toLowerCase();
        ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      }
      card.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("count").textContent = shown + " of " + cards.length + " cards";
  }
  document.getElementById("mode").addEventListener("click", function () {
    night(body.dataset.mode !== "night");
  });
  document.getElementById("width").addEventListener("click", function () {
    phone(body.dataset.width !== "phone");
  });
  ["deck-filter", "tag-filter", "search"].forEach(function (id) {
    document.getElementById(id).addEventListener("input", filter);
  });
  var saved = null;
  try { saved = localStorage.getItem("deck-preview-mode"); } catch (e) {}
  night(saved === "night");
  filter();
  window.deckPreview = { night: night, phone: phone, filter: filter };
})();
"""

# `deck watch`: a file:// page cannot fetch, but it can load a script; poll version.js
_LIVE_SCRIPT = """\
(function () {
  var seen = null;
  function poll() {
    var s = document.createElement("script");
    s.src = "version.js?" + Date.now();
    s.onload = function () {
      if (seen === null) { seen = window.deckPreviewVersion; }
      else if (window.deckPreviewVersion !== seen) { location.reload(); }
      s.remove();
    };
    s.onerror = function () { s.remove(); };
    document.head.appendChild(s);
  }
  setInterval(poll, 1000);
  poll();
})();
"""

