"""`Card` to HTML fields: Markdown rendered, math kept for MathJax, media renamed."""

from __future__ import annotations

from html import escape

from generator import markdown
from generator.diagnostics import Diagnostic
from generator.media import MediaError, MediaResolver
from generator.model import Card, Kind, RenderedCard, SourcePos

def render_card(card: Card, media: MediaResolver) -> tuple[RenderedCard, tuple[Diagnostic, ...]]:
    """The note's fields in note-type order: (Front, Back, Source) or (Text, Extra, Source)."""
    diagnostics: list[Diagnostic] = []
    files: list = []
    cloze = card.kind is Kind.CLOZE

    def env(first_line: int) -> dict:
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
            files.append(found)
            return found.name

        return {"cloze": cloze, "warn": warn, "image": image}

    if "\n" in card.front:
        front = markdown.render(card.front, env(card.pos.line)).strip()
    else:
        front = markdown.render_inline(card.front, env(card.pos.line)).strip()
    back = markdown.render(card.back, env(card.back_line)).strip() if card.back else ""
    rendered = RenderedCard(card=card, fields=(front, back, escape(card.pos.path)),
                            media=tuple(dict.fromkeys(files)))
    return rendered, tuple(diagnostics)
