"""Cards to HTML fields: Markdown rendered, math kept for MathJax, media renamed."""

from __future__ import annotations

from html import escape

from generator import markdown
from generator.diagnostics import Diagnostic
from generator.media import MediaError, MediaResolver, remote, unsupported_format
from generator.model import Card, Kind, RenderEnv, RenderedCard, SourcePos, nfc
from generator.parse import CLOZE_RE, CardTokens, parse_tokens

class _Fields:
    """Collects what rendering one card finds: media files and diagnostics."""

    def __init__(self, card: Card, media: MediaResolver):
        self.card, self.media = card, media
        self.diagnostics: list[Diagnostic] = []
        self.files: list = []

    def env(self, first_line: int, cloze: bool = False, math_checked: bool = False) -> RenderEnv:
        """markdown-it's env; token line `n` is file line `first_line + n`."""
        path = self.card.pos.path

        def warn(line: int, code: str, message: str, col: int = 1) -> None:
            self.diagnostics.append(Diagnostic(SourcePos(path, first_line + line, col),
                                               code, message))

        def image(src: str, line: int, written: str) -> str | None:
            if remote(src):
                warn(line, "W407", f"image '{written}' is fetched from the network at every "
                     "review and does not show offline; download it into 'media/'")
                return None
            try:
                found = self.media.resolve(path, src, written)
            except MediaError as error:
                warn(line, error.code, error.message)
                return None
            if found is None:
                return None
            if (problem := unsupported_format(found.name)) is not None:
                warn(line, "W404", f"image '{written}': {problem}")
            self.files.append(found)
            return found.name

        return RenderEnv(cloze=cloze, warn=warn, image=image, math_checked=math_checked)

    def done(self, front: str, back: str, raw_html: bool) -> RenderedCard:
        return RenderedCard(card=self.card, fields=(front, back, escape(nfc(self.card.pos.path))),
                            media=tuple(dict.fromkeys(self.files)), raw_html=raw_html)


def render_card(card: Card, media: MediaResolver, math_checked: bool = False
                ) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """The note's fields in note-type order, (Front, Back, Source) or (Text, Extra, Source),
    parsing the card's own Markdown text."""
    out = _Fields(card, media)
    cloze = card.kind is Kind.CLOZE
    # the heading is inline text; what stood above a `?` is rendered as blocks below it
    heading, _, extra = card.front.partition("\n\n")
    heading_env = out.env(card.pos.line, cloze, math_checked)
    extra_env = out.env(card.front_line, cloze, math_checked)
    back_env = out.env(card.back_line, _cloze_in_body(card), math_checked)
    return _fields(out, markdown.parse_inline(heading, heading_env)[0],
                   markdown.parse(extra, extra_env) if extra else None,
                   markdown.parse(card.back, back_env) if card.back else [],
                   heading_env, extra_env, back_env)


def render_tokens(source: CardTokens, media: MediaResolver
                  ) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """Like `render_card`, from the tokens its file was parsed into (no second parse)."""
    card = source.card
    if source.back is None:  # its file's parse already checked its formulas
        return render_card(card, media, math_checked=True)
    out = _Fields(card, media)
    absolute = out.env(1, card.kind is Kind.CLOZE)  # token maps count the file's lines from 0
    return _fields(out, source.heading, source.extra, source.back, absolute, absolute,
                   out.env(1, _cloze_in_body(card)))


def _fields(out: _Fields, heading, extra, back, heading_env, extra_env, back_env):
    """Front (the heading's inline token, then any blocks from above a `?`) and back."""
    front = markdown.render_inline_tokens(heading.children or [], heading_env).strip()
    if extra:
        front = f"<p>{front}</p>\n" + markdown.render_tokens(extra, extra_env).strip()
    back_html = markdown.render_tokens(back, back_env).strip() if back else ""
    # HTML of the author's own needs a '<' in the card's text
    card = out.card
    raw = ("<" in card.front or "<" in card.back) and markdown.has_raw_html(
        [heading, *(extra or ()), *back])
    if _cloze_in_body(card):  # the clozes are in the answer: the heading is their title
        front, back_html = (f'<div class="title">{front}</div>\n'
                            f'<div class="body">{back_html}</div>'), ""
    return out.done(front, back_html, raw), tuple(out.diagnostics)


def _cloze_in_body(card: Card) -> bool:
    return card.kind is Kind.CLOZE and not CLOZE_RE.search(card.front)


def render_file(path: str, text: str, media: MediaResolver
                ) -> tuple[list[RenderedCard], list[Diagnostic]]:
    """Every card of one source file, rendered, with what parsing and rendering found."""
    diagnostics: list[Diagnostic] = []

    def warn(line: int, code: str, message: str, col: int = 1) -> None:
        diagnostics.append(Diagnostic(SourcePos(path, line + 1, col), code, message))

    sources, found = parse_tokens(path, text, RenderEnv(warn=warn, lines=text.split("\n")))
    diagnostics += found
    rendered = []
    for source in sources:
        result, found = render_tokens(source, media)
        rendered.append(result)
        diagnostics += found
    return rendered, diagnostics
