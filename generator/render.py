"""Cards to HTML fields: Markdown rendered, math kept for MathJax, media renamed."""

from __future__ import annotations

from html import escape

from generator import markdown
from generator.diagnostics import Diagnostic
from generator.media import MediaError, MediaResolver, unsupported_format
from generator.model import Card, Kind, RenderedCard, SourcePos
from generator.parse import CardTokens, parse_tokens

class _Fields:
    """Collects what rendering one card finds: media files and diagnostics."""

    def __init__(self, card: Card, media: MediaResolver):
        self.card, self.media = card, media
        self.diagnostics: list[Diagnostic] = []
        self.files: list = []

    def env(self, first_line: int, cloze: bool = False, math_checked: bool = False) -> dict:
        """markdown-it's env; token line `n` is file line `first_line + n`."""
        path = self.card.pos.path

        def warn(line: int, code: str, message: str) -> None:
            self.diagnostics.append(Diagnostic(SourcePos(path, first_line + line), code,
                                               message))

        def image(src: str, line: int) -> str | None:
            try:
                found = self.media.resolve(path, src)
            except MediaError as error:
                warn(line, error.code, error.message)
                return None
            if found is None:
                return None
            if (problem := unsupported_format(found.name)) is not None:
                warn(line, "W404", f"image '{src}': {problem}")
            self.files.append(found)
            return found.name

        return {"cloze": cloze, "warn": warn, "image": image, "math_checked": math_checked}

    def done(self, front: str, back: str, raw_html: bool) -> RenderedCard:
        return RenderedCard(card=self.card, fields=(front, back, escape(self.card.pos.path)),
                            media=tuple(dict.fromkeys(self.files)), raw_html=raw_html)


def render_card(card: Card, media: MediaResolver, math_checked: bool = False
                ) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """The note's fields in note-type order, (Front, Back, Source) or (Text, Extra, Source),
    parsing the card's own Markdown text."""
    out = _Fields(card, media)
    # the heading is inline text; what stood above a `?` is rendered as blocks below it
    heading, _, extra = card.front.partition("\n\n")
    cloze = card.kind is Kind.CLOZE
    env = out.env(card.pos.line, cloze, math_checked)
    parts = [markdown.parse_inline(heading, env)]
    front = markdown.render_inline_tokens(parts[0][0].children or [], env).strip()
    if extra:
        env = out.env(card.front_line, cloze, math_checked)
        parts.append(markdown.parse(extra, env))
        front = f"<p>{front}</p>\n" + markdown.render_tokens(parts[-1], env).strip()
    back = ""
    if card.back:
        env = out.env(card.back_line, False, math_checked)
        parts.append(markdown.parse(card.back, env))
        back = markdown.render_tokens(parts[-1], env).strip()
    return out.done(front, back, any(markdown.has_raw_html(p) for p in parts)), \
        tuple(out.diagnostics)


def render_tokens(source: CardTokens, media: MediaResolver
                  ) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """Like `render_card`, from the tokens its file was parsed into (no second parse)."""
    card = source.card
    if source.back is None:  # its file's parse already checked its formulas
        return render_card(card, media, math_checked=True)
    out = _Fields(card, media)
    cloze = card.kind is Kind.CLOZE
    absolute = out.env(1, cloze)  # token maps count the file's lines from 0
    front = markdown.render_inline_tokens(source.heading.children or [], absolute).strip()
    if source.extra:  # what stood above the `?`
        front = f"<p>{front}</p>\n" + markdown.render_tokens(source.extra, absolute).strip()
    back = markdown.render_tokens(source.back, out.env(1)).strip()
    raw = markdown.has_raw_html([source.heading, *(source.extra or ()), *source.back])
    return out.done(front, back, raw), tuple(out.diagnostics)


def render_file(path: str, text: str, media: MediaResolver
                ) -> tuple[list[RenderedCard], list[Diagnostic]]:
    """Every card of one source file, rendered, with what parsing and rendering found."""
    diagnostics: list[Diagnostic] = []

    def warn(line: int, code: str, message: str) -> None:
        diagnostics.append(Diagnostic(SourcePos(path, line + 1), code, message))

    sources, found = parse_tokens(path, text, {"warn": warn})
    diagnostics += found
    rendered = []
    for source in sources:
        result, found = render_tokens(source, media)
        rendered.append(result)
        diagnostics += found
    return rendered, diagnostics
