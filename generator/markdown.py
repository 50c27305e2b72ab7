"""markdown-it-py behind one module (with its math rules in `formulas.py`): CommonMark +
GFM tables and strikethrough, front matter, links, code, images, and math for Anki's
MathJax.
"""

from __future__ import annotations

import functools
import re
from html import escape, unescape
from typing import Iterator

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import image as image_rule
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from generator import formulas, highlight
from generator.model import RenderEnv



def _fence(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    lang = fence_language(token.info)  # empty for an indented code block
    html, known = highlight.highlight(token.content, lang)
    warn = RenderEnv.of(env).warn
    if not known and warn is not None:
        warn(token.map[0] if token.map else 0, "W301",
                    f"unknown code language '{lang}'; rendered as plain text")
    cls = f' class="language-{escape(lang)}"' if lang else ""
    return f'<pre class="highlight"><code{cls}>{html}</code></pre>\n'


_PANDOC_CLASS = re.compile(r"[{\s]\.([^\s.}=]+)")


def fence_language(info: str) -> str:
    """The language a fence's info string names: its first word, with backslash escapes
    and entities resolved as CommonMark does (` ```c\\+\\+ `), or the first class of a
    pandoc attribute list (` ```{.python .input} `)."""
    info = unescapeAll(info).strip()
    if info.startswith("{"):
        first = _PANDOC_CLASS.search(info)
        return first.group(1) if first else ""
    return info.split(maxsplit=1)[0] if info else ""


def _image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = escape(_plain(token.children or []))
    resolve = RenderEnv.of(env).image
    if resolve is not None:
        # a reference image keeps no written form: its src made readable again
        written = token.meta.get("written") or parser().normalizeLinkText(src)
        stored = resolve(src, token.map[0] if token.map else 0, written)
        if stored is not None:
            src = stored
    title = token.attrGet("title")
    extra = f' title="{escape(title)}"' if title else ""
    return f'<img src="{escape(src)}" alt="{alt}"{extra}>'


# --- images where the author wrote them: `![](src)` as written, `<img src>` in raw HTML ---

def _image_as_written(state: StateInline, silent: bool) -> bool:
    """markdown-it's image rule, keeping the destination as the source has it (the token's
    src is percent-encoded) in `meta["written"]`, for messages."""
    start = state.pos
    if not image_rule(state, silent):
        return False
    if not silent:
        token = state.tokens[-1]
        pos = start + 3 + len(token.content)  # past `![`, the alt text and `]`
        if state.src.startswith("(", pos):
            pos += 1
            while pos < state.posMax and state.src[pos] in " \t\n":
                pos += 1
            found = state.md.helpers.parseLinkDestination(state.src, pos, state.posMax)
            if found.ok:
                written = state.src[pos : found.pos]
                token.meta["written"] = written[1:-1] if written.startswith("<") else written
    return True


# names as markdown-it reads them: no `<` in them, so a stray `<img` costs no backtracking
_ATTRIBUTE = re.compile(
    r"""\s+([a-zA-Z_:][a-zA-Z0-9:._-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_IMG = re.compile(rf"<img(?=[\s/>])((?:{_ATTRIBUTE.pattern})*)\s*/?>", re.I)


def _raw_images(self, tokens, idx, options, env) -> str:
    """HTML written in the Markdown, its `<img src>` resolved like `![](src)`: GitHub
    READMEs size pictures with `<img src="diagram.png" width="300">`."""
    token = tokens[idx]
    html = token.content
    resolve = RenderEnv.of(env).image
    if resolve is None or "<img" not in html.lower():
        return html
    first = token.map[0] if token.map else 0
    out, done = [], 0
    for tag in _img_tags(html):
        attributes = tag.start(1)
        src = next((a for a in _ATTRIBUTE.finditer(tag.group(1))
                    if a.group(1).lower() == "src" and a.group(2)), None)
        if src is None:
            continue
        start, end = attributes + src.start(2), attributes + src.end(2)
        written = html[start:end]
        quoted = written[:1] in ("'", '"')
        if quoted:
            start, end, written = start + 1, end - 1, written[1:-1]
        stored = resolve(unescape(written), first + html.count("\n", 0, start), written)
        if stored is not None:
            out += [html[done:start], stored]  # a stored name needs no quoting
            done = end
    return "".join(out) + html[done:]


def _img_tags(html: str) -> Iterator[re.Match[str]]:
    """The `<img>` tags a browser shows: none inside `<!-- -->` (an unclosed one hides the
    rest)."""
    start = 0
    while (opening := html.find("<!--", start)) != -1:
        yield from _IMG.finditer(html, start, opening)
        closing = html.find("-->", opening + 4)
        if closing == -1:
            return
        start = closing + 3
    yield from _IMG.finditer(html, start)


def _plain(children) -> str:
    return "".join(c.content if c.type != "image" else _plain(c.children or []) for c in children)


def _table_open(self, tokens, idx, options, env) -> str:
    # a wrapper lets a wide table scroll on a phone instead of widening the card
    return '<div class="table">\n<table>\n'


def _table_close(self, tokens, idx, options, env) -> str:
    return "</table>\n</div>\n"


# markdown-it stops reading a document nested deeper than this (and drops the rest); its
# default, 20, is reached by a list ten levels deep, which GitHub renders
MAX_NESTING = 100


@functools.lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """The one parser instance; it keeps no state between documents."""
    md = MarkdownIt("commonmark", {"typographer": False, "maxNesting": MAX_NESTING,
                                   "linkify": True}
                    ).enable(["table", "strikethrough", "linkify"])
    assert md.linkify is not None  # linkify-it-py is a dependency
    # bare URLs become links, as on GitHub; not bare domains (`file.py` is no address)
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    pretest = md.linkify.pretest  # a fifth of a build, asked of every paragraph
    md.linkify.pretest = lambda text: ("//" in text or "mailto:" in text) and pretest(text)
    md.core.ruler.disable("normalize")  # done by `_normalized`, only when needed
    front_matter_plugin(md)
    formulas.install(md)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("image", _image)
    md.inline.ruler.at("image", _image_as_written)
    md.add_render_rule("html_block", _raw_images)
    md.add_render_rule("html_inline", _raw_images)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("table_close", _table_close)
    return md


def parse(text: str, env: RenderEnv = RenderEnv()) -> list[Token]:
    """Block tokens of `text`; inline images carry their own line (for messages)."""
    tokens = parser().parse(_normalized(text), env.markdown_env())
    _image_lines(tokens)
    return tokens


def render_tokens(tokens: list[Token], env: RenderEnv) -> str:
    md = parser()
    return md.renderer.render(tokens, md.options, env.markdown_env())


def render_inline_tokens(children: list[Token], env: RenderEnv) -> str:
    md = parser()
    return md.renderer.renderInline(children, md.options,  # type: ignore[attr-defined]
                                    env.markdown_env())


def has_raw_html(tokens: list[Token]) -> bool:
    return any(t.type == "html_block" or any(c.type == "html_inline" for c in t.children or ())
               for t in tokens)


def _image_lines(tokens: list[Token]) -> None:
    for token in tokens:
        # inline tokens carry no line; give images their own, for messages
        breaks = 0
        for child in token.children or ():
            if child.type in ("softbreak", "hardbreak"):
                breaks += 1
            elif child.type in ("image", "html_inline") and token.map:
                child.map = [token.map[0] + breaks, token.map[0] + breaks + 1]
            if child.type == "html_inline":
                breaks += child.content.count("\n")  # a tag may span lines


def parse_inline(text: str, env: RenderEnv) -> list[Token]:
    return parser().parseInline(_normalized(text), env.markdown_env())


def _normalized(text: str) -> str:
    """What markdown-it's `normalize` rule does (switched off in `parser`): sources come
    read with `\n` line ends and without NUL, so this is a quick look, not a rewrite of
    every line end of a 10 MB file."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\0", "\ufffd") if "\0" in text else text
