"""latex2mathml behind one module: formulas for the offline preview.

Anki renders `\\(...\\)` and `\\[...\\]` with its own MathJax; the preview must work with
no network, so it shows MathML, which Chromium and Safari render natively.
"""

from __future__ import annotations

import re
from html import escape, unescape

_MATH = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.S)

# latex2mathml copies `\text{}` verbatim and `\href`, `\style`, `\class` arguments into
# attributes, so its output is rebuilt from its element tree: only these MathML elements,
# only presentation attributes, every text and value escaped. Nothing in a formula can run
# script, follow a link or load a file.
_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "msub", "msup", "msubsup",
    "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mfrac",
    "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "menclose", "mfenced", "mtable",
    "mtr", "mtd"})
_ATTRIBUTES = frozenset({
    "xmlns", "display", "mathvariant", "mathsize", "mathcolor", "mathbackground",
    "displaystyle", "scriptlevel", "stretchy", "fence", "separator", "form", "largeop",
    "movablelimits", "accent", "accentunder", "lspace", "rspace", "minsize", "maxsize",
    "symmetric", "width", "height", "depth", "voffset", "linethickness", "linebreak",
    "notation", "columnalign", "columnlines", "columnspacing", "rowalign", "rowlines",
    "rowspacing", "frame", "framespacing", "open", "close", "separators"})


def convert(latex: str, display: bool) -> str | None:
    """MathML for `latex`, or None when it cannot be rendered faithfully."""
    from latex2mathml.converter import convert_to_element

    try:
        tree = convert_to_element(latex, display="block" if display else "inline")
    except Exception:  # the library raises many kinds for malformed input
        return None
    return _serialize(tree)


def _serialize(element) -> str | None:
    """`element` as safe MathML; None when it holds an element we do not allow (such as
    `merror`) or an unknown command (it would show as text: not a faithful rendering)."""
    tag = element.tag
    # latex2mathml stores text with its own character references (`&#x000A0;`): decode
    # them, then escape everything, so `<` typed in `\text{}` stays text
    text = unescape(element.text or "")
    if tag not in _TAGS or (tag == "mi" and re.match(r"\\[A-Za-z]", text)):
        return None
    attributes = "".join(f' {name}="{escape(unescape(value))}"'
                         for name, value in element.attrib.items() if name in _ATTRIBUTES)
    children = []
    for child in element:
        inner = _serialize(child)
        if inner is None:
            return None
        children.append(inner + escape(unescape(child.tail or ""), quote=False))
    return f"<{tag}{attributes}>{escape(text, quote=False)}{''.join(children)}</{tag}>"


def replace_math(html: str, failed: list[str]) -> str:
    """Every `\\(...\\)` and `\\[...\\]` in field HTML as MathML; a formula that cannot be
    converted stays visible as its LaTeX and is added to `failed`."""
    def one(match: re.Match) -> str:
        display = match.group(2) is not None
        source = match.group(2) if display else match.group(1)
        latex = unescape(source)
        out = convert(latex, display)
        if out is None:
            failed.append(latex)
            opening, closing = ("\\[", "\\]") if display else ("\\(", "\\)")
            return (f'<code class="math-source" title="the preview cannot render this '
                    f'formula; Anki will">{escape(opening + latex + closing)}</code>')
        return out

    return _MATH.sub(one, html)
