"""`Card` to HTML fields: Markdown rendered, math kept for MathJax, media renamed."""

from __future__ import annotations

from html import escape

from generator import markdown
from generator.diagnostics import Diagnostic
from generator.media import MediaError, MediaResolver, unsupported_format
from generator.model import Card, Kind, RenderedCard, SourcePos

def render_card(card: Card, media: MediaResolver) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """The note's fields in note-type order: (Front, Back, Source) or (Text, Extra, Source)."""
    diagnostics: list[Diagnostic] = []
    files: list = []

    def env(first_line: int, cloze: bool = False) -> dict:
        def warn(line: int, code: str, message: str) -> None:
            diagnostics.append(Diagnostic(SourcePos(card.pos.path, first_line + line), code,
                                          message))

        def image(src: str, line: int) -> str | None:
            try:
                found = media.resolve(card.pos.path, src)
            except MediaError as error:
                warn(line, error.code, error.message)
                return None
            if found is None:
                return None
            if (problem := unsupported_format(found.name)) is not None:
                warn(line, "W404", f"image '{src}': {problem}")
            files.append(found)
            return found.name

        return {"cloze": cloze, "warn": warn, "image": image}

    # the heading is inline text; what stood above a `?` is rendered as blocks below it
    heading, _, extra = card.front.partition("\n\n")
    cloze = card.kind is Kind.CLOZE
    front = markdown.render_inline(heading, env(card.pos.line, cloze)).strip()
    if extra:
        front = f"<p>{front}</p>\n" + markdown.render(extra, env(card.front_line, cloze)).strip()
    back = markdown.render(card.back, env(card.back_line)).strip() if card.back else ""
    rendered = RenderedCard(card=card, fields=(front, back, escape(card.pos.path)),
                            media=tuple(dict.fromkeys(files)))
    return rendered, tuple(diagnostics)
