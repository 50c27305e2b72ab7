"""The `deck` command: click options in, text and exit codes out. Nothing imports this."""

from __future__ import annotations

import json
import os
import sys
import time

import click

from generator.diagnostics import (BuildFailed, DeckError, Interrupted, chosen, error_count,
                                   has_errors, located, shown_path)

source_option = click.option("--source", "source", metavar="DIR",
                             help="Folder of Markdown sources (default: ./source).")
media_option = click.option("--media", "media", metavar="DIR",
                            help="Folder looked up for bare image names (default: ./media).")
preview_dir_option = click.option("-o", "--output", metavar="DIR",
                                  help="Preview folder (default: build/preview).")
open_option = click.option("--open", "open_page", is_flag=True,
                           help="Open the preview in your browser.")


def _codes(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
           ) -> tuple[str, ...]:
    """A `--select` or `--ignore` value list, checked: each a code or the start of codes."""
    from generator.diagnostics import CODES, Severity, matching

    flag, command = f"--{param.name}", ctx.info_name
    wanted = tuple(dict.fromkeys(part.strip().upper() for value in values
                                 for part in value.split(",") if part.strip()))
    if values and not wanted:
        raise click.BadParameter("no code given", param_hint=flag)
    for value in wanted:
        codes = matching(value)
        if not codes:
            import difflib

            near = difflib.get_close_matches(value, CODES, n=3, cutoff=0.7)
            hint = f" (did you mean {' or '.join(near)}?)" if near else ""
            raise click.BadParameter(
                f"no finding '{value}'{hint}; give a code (W301) or its start (W3, W): "
                "README's table of findings lists them", param_hint=flag)
        errors = [c for c in codes if CODES[c].severity is Severity.ERROR]
        if errors and param.name == "ignore" and command != "check":
            more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
            what = value if value in CODES else \
                f"'{value}' (it takes in {', '.join(errors[:3])}{more})"
            raise click.BadParameter(
                f"cannot ignore {what}: 'deck {command}' writes nothing while an error "
                "remains; only 'deck check' can leave errors out", param_hint=flag)
    if wanted and param.name == "select" and command != "check":
        # a build's errors always show: they are why nothing was written
        wanted += tuple(c for c, f in CODES.items() if f.severity is Severity.ERROR)
    return wanted


select_option = click.option("--select", metavar="CODE[,CODE...]", multiple=True,
                             callback=_codes,
                             help="Show only these findings: codes (W301) or their starts "
                                  "(W3, W).")
ignore_option = click.option("--ignore", metavar="CODE[,CODE...]", multiple=True,
                             callback=_codes,
                             help="Leave out these findings: codes (W301) or their starts "
                                  "(W3, W).")


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
              help="Rebuild the lock from the sources, ignoring the one there (reworded "
                   "cards then get new identities).")
@click.option("--restore-lock", is_flag=True,
              help="Merge into the lock what the copy this machine kept in build/ knows (for "
                   "a lock that is missing, damaged or older than the last build).")
@click.option("--accept-lock", is_flag=True,
              help="Build with the lock as it is, even when it looks older than the last "
                   "build here or like another project's.")
@select_option
@ignore_option
def build_command(source, media, output, reset_lock, restore_lock, accept_lock, select,
                  ignore) -> None:
    """Build the .apkg from the Markdown sources and update the lock file."""
    from generator import build

    if reset_lock + restore_lock + accept_lock > 1:
        raise click.UsageError("choose one of --reset-lock, --restore-lock, --accept-lock")
    project = build.load_project(source, media, output)
    progress = _LazyProgress()
    choice = build.LockChoice(reset=reset_lock, restore=restore_lock, accept=accept_lock)
    try:
        summary, compiled = build.build(project, progress=progress, choice=choice)
    except BuildFailed as failure:
        raise BuildFailed(chosen(failure.diagnostics, select, ignore), failure.source) from None
    finally:
        progress.close()
    _print_diagnostics(chosen(compiled.diagnostics, select, ignore), project.source, err=True)
    for line in _summary_lines(summary, project.source):
        click.echo(line)


@cli.command("check")
@source_option
@media_option
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format; json is for editors and CI.")
@select_option
@ignore_option
def check_command(source, media, strict, fmt, select, ignore) -> None:
    """Report every problem in the sources; writes nothing."""
    from generator import build

    project = build.load_project(source, media)
    compiled = build.compile_project(project, build.build_time())
    diagnostics = chosen(compiled.diagnostics, select, ignore)
    if fmt == "json":
        click.echo(json.dumps([{"path": shown_path(d.pos.path, project.source),
                                "line": d.pos.line, "col": d.pos.col,
                                "code": d.code, "severity": d.severity.value,
                                "message": d.message} for d in diagnostics], indent=2))
    else:
        _print_diagnostics(diagnostics, project.source)
    errors = error_count(diagnostics)
    warnings = len(diagnostics) - errors
    files = len({n.card.pos.path for n in compiled.notes})
    counted = (f"{errors} error{_s(errors)}, {warnings} warning{_s(warnings)}"
               if diagnostics else "no problems")
    click.echo(f"{counted} in {len(compiled.notes)} card{_s(len(compiled.notes))} from "
               f"{files} file{_s(files)}", err=True)
    if errors or (strict and warnings):
        raise SystemExit(1)


@cli.command("ids")
@source_option
@media_option
@click.option("--check", "check_only", is_flag=True,
              help="Only report cards without a pinned id; write nothing.")
def ids_command(source, media, check_only) -> None:
    """Pin each card's current GUID under its heading as '<!-- id: ... -->'."""
    from generator import build, pin

    project = build.load_project(source, media)
    compiled = build.compile_project(project, build.build_time())
    if has_errors(compiled.diagnostics):
        raise BuildFailed(compiled.diagnostics, project.source)
    unpinned = pin.unpinned(compiled.notes)
    count = sum(len(p) for p in unpinned.values())
    if check_only:
        for note in compiled.notes:
            if note.card.explicit_id is None:
                click.echo(f"{note.card.pos}: I001 card has no pinned id (it is '{note.guid}'; "
                           "run 'deck ids' to write it)")
        click.echo(f"{count} card{_s(count)} without a pinned id", err=True)
        if count:
            raise SystemExit(1)
        return
    for rel, pins in sorted(unpinned.items()):
        try:
            pin.write_pins(project.source / rel, pins)
        except OSError as error:
            raise DeckError(f"cannot write '{rel}': {error.strerror or error}") from None
    click.echo(f"pinned {count} card{_s(count)} in {len(unpinned)} file{_s(len(unpinned))}")


@cli.command("pending")
@source_option
@click.option("--done", "done", metavar="ID[,ID...]|all",
              help="Mark these steps done (their ids as listed, or 'all').")
def pending_command(source, done) -> None:
    """List what is still to be done in Anki: notes to delete, cards to move, empty cards."""
    from generator import build, pending

    project = build.load_project(source)
    lock, steps = pending.load(project.lock_path)
    if done is not None:
        chosen = _chosen_steps(done, steps)
        if lock is not None and chosen:
            pending.write_done(project.lock_path, lock, chosen, project.memory_path)
        for step in chosen:
            click.echo(f"done: {step.title}")
        left = len(steps) - len(chosen)
        click.echo(f"marked {len(chosen)} step{_s(len(chosen))} done; {left} left")
        return
    if not steps:
        click.echo("nothing to do in Anki: it has every change an import can make")
        return
    click.echo(f"{len(steps)} step{_s(len(steps))} to do in Anki, after importing the "
               "latest build:")
    for step in steps:
        click.echo(f"[{step.id}] {step.title}")
        click.echo(f"   {step.how}")
        click.echo(f"   search: {step.search}")
    click.echo(f"when done: deck pending --done {','.join(s.id for s in steps)} (or the ids "
               "of those done)")


def _chosen_steps(done: str, steps) -> list:
    """The steps named by id (ids change when a step does, so a build in between cannot
    make an id name another step), or all of them."""
    if done.strip().lower() == "all":
        return list(steps)
    by_id = {step.id: step for step in steps}
    wanted = list(dict.fromkeys(done.replace(",", " ").split()))
    unknown = [n for n in wanted if n not in by_id]
    if unknown or not wanted:
        raise click.BadParameter(f"no step '{unknown[0] if unknown else done}' to do; "
                                 "'deck pending' lists the steps and their ids",
                                 param_hint="--done")
    return [by_id[n] for n in wanted]


@cli.command("preview")
@source_option
@media_option
@preview_dir_option
@open_option
@select_option
@ignore_option
def preview_command(source, media, output, open_page, select, ignore) -> None:
    """Write build/preview/index.html: every card, both sides, day and night."""
    from pathlib import Path

    from generator import build

    project = build.load_project(source, media)
    result = build.write_preview(project, Path(output).resolve() if output else None)
    _print_diagnostics(chosen(result.diagnostics, select, ignore), project.source, err=True)
    click.echo(f"wrote {_rel(str(result.index))}: {result.cards} note{_s(result.cards)}, "
               f"{result.sides} card{_s(result.sides)}, {result.media} media file"
               f"{_s(result.media)}")
    if open_page:
        _open(result.index)


@cli.command("watch")
@source_option
@media_option
@preview_dir_option
@open_option
@select_option
@ignore_option
def watch_command(source, media, output, open_page, select, ignore) -> None:
    """Rebuild the package and the preview whenever a source or media file changes."""
    import gc
    from pathlib import Path

    from generator import build, watch

    gc.enable()  # a long-running process: each build pauses the collector while it runs

    project = build.load_project(source, media)
    click.echo("watching for changes; press Ctrl-C to stop", err=True)
    opened = not open_page
    try:
        for outcome in watch.run(project, Path(output).resolve() if output else None):
            _print_diagnostics(chosen(outcome.diagnostics, select, ignore), project.source,
                               err=True)
            stamp = time.strftime("%H:%M:%S")
            if outcome.summary is not None:
                first, *rest = _summary_lines(outcome.summary, project.source)
                click.echo(f"[{stamp}] {first}")
                for line in rest:
                    click.echo(line)
            elif outcome.error:
                click.echo(f"[{stamp}] deck: error: {outcome.error}", err=True)
            else:
                errors = error_count(outcome.diagnostics)
                click.echo(f"[{stamp}] {errors} error{_s(errors)}; kept the last good package",
                           err=True)
            if not opened and outcome.preview is not None:
                _open(outcome.preview)
                opened = True
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)


def _open(page) -> None:
    import webbrowser

    webbrowser.open(page.as_uri())


def _print_diagnostics(diagnostics, source=None, err: bool = False) -> None:
    for d in diagnostics:
        click.echo(located(d, source), err=err)


def _summary_lines(summary, source=None) -> list[str]:
    """The summary line; the cards that kept a reworded card's identity; what is still to
    be done in Anki."""
    from generator.diagnostics import short

    notes = summary.new + summary.changed + summary.unchanged
    lines = [f"built {_rel(summary.output)}: {summary.decks} deck{_s(summary.decks)}, "
             f"{notes} note{_s(notes)} ({summary.new} new, {summary.changed} changed, "
             f"{summary.unchanged} unchanged, {len(summary.removed)} removed from sources), "
             f"{summary.media} media file{_s(summary.media)}, {summary.seconds:.2f} s"]
    for note in summary.reworded:
        pos = note.card.pos
        lines.append(f"  {shown_path(pos.path, source)}:{pos.line}:{pos.col}: kept the "
                     "identity of reworded card "
                     f"'{short(note.renamed_from)}'")
    if summary.pending:
        counts = {a: summary.pending.count(a) for a in dict.fromkeys(summary.pending)}
        what = ", ".join(f"{n} {_ACTIONS[a]}{_s(n)}" for a, n in counts.items())
        steps = len(summary.pending)
        lines.append(f"{steps} step{_s(steps)} to do in Anki that an import cannot ({what}): "
                     "'deck pending' shows them")
    return lines


_ACTIONS = {"delete": "deletion", "move": "deck move", "empty": "empty-card cleanup"}


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
        code = cli.main(args=argv, prog_name="deck", standalone_mode=False)
    except BuildFailed as failure:
        _print_diagnostics(failure.diagnostics, failure.source, err=True)
        errors = error_count(failure.diagnostics)
        click.echo(f"{errors} error{_s(errors)}; nothing was written", err=True)
        return 1
    except Interrupted as error:
        click.echo(f"deck: {error}", err=True)
        return 130
    except DeckError as error:
        click.echo(f"deck: error: {error}", err=True)
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("deck: interrupted; nothing was changed", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return 2 if isinstance(error, click.UsageError) else 1
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # a bug of ours: say so plainly, keep the details at hand
        if os.environ.get("DECK_DEBUG"):
            raise
        click.echo(f"deck: internal error: {type(error).__name__}: {error} (run with "
                   "DECK_DEBUG=1 for the traceback, and please report it)", err=True)
        return 2
    return code if isinstance(code, int) else 0


def run() -> None:
    """The `deck` command: `main` with Python's cycle collector paused for good (a one-shot
    process of acyclic values: resumed after a build, it would scan the million objects
    the build made), then an exit that skips the teardown where that pays (speedups.py)."""
    from generator import speedups

    speedups.pause_collector()
    speedups.exit_process(main())
