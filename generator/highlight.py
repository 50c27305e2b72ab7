"""Pygments behind one module: lexer lookup with a plain-text fallback, the HTML (through
the quick lexer where it serves, see quicklex.py), and the CSS.

Code is emitted with CSS classes only, so one card renders readably in both Anki's day
mode and its night mode (`nightMode`/`night_mode` on the card's body).
"""

from __future__ import annotations

import functools
from html import escape

from . import quicklex

LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
NIGHT_SELECTORS = (".nightMode", ".night_mode")


@functools.lru_cache(maxsize=None)
def _lexer(lang: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def highlight(code: str, lang: str) -> tuple[str, bool]:
    """HTML for the inside of a `<code>` element, and whether `lang` was known.

    An empty `lang` is plain text without a finding; an unknown one falls back to plain
    text and the caller reports it.
    """
    lexer = _lexer(lang.lower()) if lang else None
    if lexer is None:
        return escape(code, quote=False), not lang
    return _html(code, lexer), True


def _html(code: str, lexer) -> str:
    """The one seam to the quick lexer (see quicklex: same HTML, fewer regex attempts)."""
    from pygments import format as pygments_format, highlight as pygments_highlight

    if quicklex.ENABLED and quicklex.indexable(lexer):
        return pygments_format(quicklex.get_tokens(lexer, code), _formatter())
    return pygments_highlight(code, lexer, _formatter())


def _rule(selector: str, style: dict, fallback_color: str) -> str:
    parts = [f"color: #{style['color'] or fallback_color}"]
    if style["bgcolor"]:
        parts.append(f"background-color: #{style['bgcolor']}")
    parts.append(f"font-weight: {'bold' if style['bold'] else 'normal'}")
    parts.append(f"font-style: {'italic' if style['italic'] else 'normal'}")
    if style["underline"]:
        parts.append("text-decoration: underline")
    return f"{selector} {{ {'; '.join(parts)} }}"


def _style_css(style_name: str, scopes: tuple[str, ...], default_color: str) -> list[str]:
    """Every token class gets a complete rule, so no day colour leaks into night mode."""
    from pygments.styles import get_style_by_name
    from pygments.token import STANDARD_TYPES, Token

    style = get_style_by_name(style_name)
    base = style.style_for_token(Token)["color"] or default_color
    box = ", ".join(f"{s} pre.highlight".strip() for s in scopes)
    rules = [f"{box} {{ background-color: {style.background_color}; color: #{base} }}"]
    for token, cls in sorted(STANDARD_TYPES.items(), key=lambda item: item[1]):
        if not cls:
            continue
        selector = ", ".join(f"{s} pre.highlight .{cls}".strip() for s in scopes)
        rules.append(_rule(selector, style.style_for_token(token), base))
    return rules


@functools.lru_cache(maxsize=1)
def css() -> str:
    """Day rules, then night rules scoped under both night-mode classes."""
    light = _style_css(LIGHT_STYLE, ("",), "1f2328")
    dark = _style_css(DARK_STYLE, NIGHT_SELECTORS, "e6edf3")
    return "\n".join(light + dark) + "\n"
