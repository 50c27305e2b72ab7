"""latex2mathml behind one module: formulas for the offline preview.

Anki renders `\\(...\\)` and `\\[...\\]` with its own MathJax; the preview must work with
no network, so it shows MathML, which Chromium and Safari render natively.
"""

from __future__ import annotations

import re
from html import escape, unescape

_MATH = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.S)


def convert(latex: str, display: bool) -> str | None:
    """MathML for `latex`, or None when it cannot be rendered faithfully."""
    from latex2mathml.converter import convert as to_mathml

    try:
        out = to_mathml(latex, display="block" if display else "inline")
    except Exception:  # the library raises many kinds for malformed input
        return None
    if re.search(r"<mi>\\[A-Za-z]", out) or "<merror" in out:
        return None  # an unknown command would show as text: not a faithful rendering
    return out


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
