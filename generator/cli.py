"""The `deck` command: click options in, text and exit codes out. Nothing imports this."""

from __future__ import annotations

import os
import sys
import time

import click

from generator.diagnostics import BuildFailed, DeckError, Severity

source_option = click.option("--source", "source", metavar="DIR",
                             help="Folder of Markdown sources (default: ./source).")
media_option = click.option("--media", "media", metavar="DIR",
                            help="Folder looked up for bare image names (default: ./media).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="markdown-anki-deck")
def cli() -> None:
    """Turn Markdown flashcards into an Anki package whose notes update in place."""


@cli.command("build")
@source_option
@media_option
@click.option("-o", "--output", metavar="FILE",
              help="Package to write (default: build/<deck>.apkg).")
@click.option("--reset-lock", is_flag=True,
              help="Ignore an unreadable lock file and rebuild it from the sources.")
def build_command(source, media, output, reset_lock) -> None:
    """Build the .apkg from the Markdown sources and update the lock file."""
    from generator import build

    project = build.load_project(source, media, output)
    progress = _LazyProgress()
    try:
        summary, compiled = build.build(project, progress=progress, reset_lock=reset_lock)
    finally:
        progress.close()
    _print_diagnostics(compiled.diagnostics)
    click.echo(
        f"built {_rel(summary.output)}: {summary.decks} deck{_s(summary.decks)}, "
        f"{len(compiled.notes)} note{_s(len(compiled.notes))} ({summary.new} new, "
        f"{summary.changed} changed, {summary.unchanged} unchanged, "
        f"{len(summary.removed)} removed from sources), {summary.media} media file"
        f"{_s(summary.media)}, {summary.seconds:.2f} s")
    for note in summary.reworded:
        click.echo(f"  {note.card.pos}: kept the identity of reworded card "
                   f"'{_short(note.renamed_from)}'")
    for note, old in summary.moved:
        click.echo(f"  {note.card.pos}: deck changed from '{old}' to '{note.card.deck}'; "
                   "Anki keeps existing cards in their deck on import: move them in the "
                   f"browser (search: {_search(old, note.card.front)})")
    for entry in summary.removed:
        click.echo(f"  {entry.file}: '{_short(entry.front_text)}' was removed from the "
                   "sources; an import never deletes notes: find it in Anki's browser with "
                   f"{_search(entry.deck, entry.front_text)} and delete it there")


def _print_diagnostics(diagnostics) -> None:
    for d in diagnostics:
        click.echo(str(d), err=True)


def _search(deck: str, front: str) -> str:
    words = " ".join(front.split()[:8])
    for ch in '\\"*_:':
        words = words.replace(ch, "\\" + ch)
    return f'"deck:{deck}" "Front:*{words}*"'


def _short(text: str | None, limit: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rel(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def _s(n: int) -> str:
    return "" if n == 1 else "s"


class _LazyProgress:
    """A progress bar that appears only when rendering takes more than a moment."""

    DELAY = 0.5

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.bar = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY or not sys.stderr.isatty():
                return
            self.bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 clean, 1 findings, 2 usage or environment)."""
    try:
        cli.main(args=argv, prog_name="deck", standalone_mode=False)
    except BuildFailed as failure:
        _print_diagnostics(failure.diagnostics)
        errors = sum(d.severity is Severity.ERROR for d in failure.diagnostics)
        click.echo(f"{errors} error{_s(errors)}; nothing was written", err=True)
        return 1
    except DeckError as error:
        click.echo(f"deck: error: {error}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("deck: interrupted; nothing was changed", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return 2 if isinstance(error, click.UsageError) else 1
    except KeyboardInterrupt:
        click.echo("deck: interrupted; nothing was changed", err=True)
        return 130
    except Exception as error:  # a bug of ours: say so plainly, keep the details at hand
        if os.environ.get("DECK_DEBUG"):
            raise
        click.echo(f"deck: internal error: {type(error).__name__}: {error} (run with "
                   "DECK_DEBUG=1 for the traceback, and please report it)", err=True)
        return 2
    return 0
