"""The `deck` command: click options in, text and exit codes out. Nothing imports this."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

import click

from generator import report

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar
from generator.diagnostics import (BuildFailed, DeckError, Interrupted, chosen, error_count,
                                   has_errors)

source_option = click.option("--source", "source", metavar="DIR",
                             help="Folder of Markdown sources (default: ./source).")
media_option = click.option("--media", "media", metavar="DIR",
                            help="Folder looked up for bare image names (default: ./media).")
preview_dir_option = click.option("-o", "--output", metavar="DIR",
                                  help="Preview folder (default: build/preview).")
open_option = click.option("--open", "open_page", is_flag=True,
                           help="Open the preview in your browser.")
jobs_option = click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
                           help="Render with N processes (default: one per CPU; 1: none "
                                "besides this one).")
no_cache_option = click.option("--no-cache", is_flag=True,
                               help="Render every card again, and keep nothing in "
                                    "build/cache.")


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """The library's debug lines (loggers under `deck.`) on stderr."""
    if value:
        import logging

        log = logging.getLogger("deck")
        if not log.handlers:
            handler = logging.StreamHandler()  # sys.stderr as it is when a line is written
            handler.setFormatter(logging.Formatter("deck: %(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.DEBUG)


verbose_option = click.option("-v", "--verbose", is_flag=True, expose_value=False,
                              is_eager=True, callback=_verbose,
                              help="Say why cards are rendered again, and how.")


_REFUSING = ("build", "watch")  # the commands that write nothing while an error remains


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
        if errors and param.name == "ignore" and command in _REFUSING:
            more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
            what = value if value in CODES else \
                f"'{value}' (it takes in {', '.join(errors[:3])}{more})"
            raise click.BadParameter(
                f"cannot ignore {what}: 'deck {command}' writes nothing while an error "
                "remains; 'deck check' and 'deck preview' can leave errors out",
                param_hint=flag)
    if wanted and param.name == "select" and command in _REFUSING:
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
@jobs_option
@no_cache_option
@select_option
@ignore_option
@verbose_option
def build_command(source, media, output, reset_lock, restore_lock, accept_lock, jobs,
                  no_cache, select, ignore) -> None:
    """Build the .apkg from the Markdown sources and update the lock file."""
    from generator import build

    if reset_lock + restore_lock + accept_lock > 1:
        raise click.UsageError("choose one of --reset-lock, --restore-lock, --accept-lock")
    project = build.load_project(source, media, output)
    progress = _LazyProgress()
    choice = build.LockChoice(reset=reset_lock, restore=restore_lock, accept=accept_lock)
    try:
        summary, compiled = build.build(project, progress=progress, choice=choice,
                                        workers=jobs, use_cache=not no_cache)
    except BuildFailed as failure:
        raise BuildFailed(chosen(failure.diagnostics, select, ignore), failure.source) from None
    finally:
        progress.close()
    _echo(report.findings(chosen(compiled.diagnostics, select, ignore), project.source),
          err=True)
    _echo(report.summary(summary, project.source))


@cli.command("check")
@source_option
@media_option
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format; json is for editors and CI.")
@jobs_option
@no_cache_option
@select_option
@ignore_option
@verbose_option
def check_command(source, media, strict, fmt, jobs, no_cache, select, ignore) -> None:
    """Report every problem in the sources; writes nothing."""
    from generator import build

    project = build.load_project(source, media)
    compiled = build.compile_project(project, build.build_time(), workers=jobs,
                                     use_cache=not no_cache)
    diagnostics = chosen(compiled.diagnostics, select, ignore)
    if fmt == "json":
        click.echo(report.findings_json(diagnostics, project.source))
    else:
        _echo(report.findings(diagnostics, project.source))
    click.echo(report.check_totals(diagnostics, compiled.notes), err=True)
    errors = error_count(diagnostics)
    if errors or (strict and len(diagnostics) > errors):
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
    if check_only:
        lines = report.unpinned(compiled.notes)
        _echo(lines)
        click.echo(report.unpinned_total(len(lines)), err=True)
        if lines:
            raise SystemExit(1)
        return
    click.echo(report.pinned(*pin.pin_all(project.source, compiled.notes)))


@cli.command("push")
@source_option
@media_option
@click.option("--profile", metavar="NAME", help="Anki profile (default: the last one used).")
@click.option("--collection", "collection_path", metavar="PATH",
              help="A collection.anki2 file, instead of a profile's.")
@click.option("--base", metavar="DIR", help="Anki's data folder (default: ANKI_BASE, or the "
              "platform's).")
@click.option("--no-sync", is_flag=True, help="Apply to the collection only; do not sync "
              "(cards whose deck changed are then not moved).")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--allow-full-sync", is_flag=True, help="Allow a change that needs a one-way "
              "sync (every device downloads the whole collection again).")
@verbose_option
def push_command(source, media, profile, collection_path, base, no_sync, dry_run,
                 allow_full_sync) -> None:
    """Build, then apply the build to your Anki collection and sync it to your devices."""
    from generator import build, pending, push

    if profile and collection_path:
        raise click.UsageError("choose one of --profile and --collection")
    project = build.load_project(source, media)
    result, compiled = push.push(project, push.Options(
        collection=collection_path, profile=profile, base=base, sync=not no_sync,
        dry_run=dry_run, allow_full_sync=allow_full_sync))
    # what the push itself did is no longer a step left to do in Anki
    done = () if dry_run else tuple(pending.FINDING[a] for a in (
        pending.DELETE, pending.EMPTY, *((pending.MOVE,) if result.moved else ())))
    _echo(report.findings(chosen(compiled.diagnostics, (), done), project.source), err=True)
    _echo(report.push_plan(result) if dry_run else report.pushed(result))


@cli.command("adopt")
@click.argument("package", required=False, metavar="[PACKAGE.apkg]")
@click.option("--profile", metavar="NAME", help="Anki profile (default: the last one used).")
@click.option("--collection", "collection_path", metavar="PATH",
              help="A collection.anki2 file, instead of a profile's.")
@click.option("--base", metavar="DIR", help="Anki's data folder (default: ANKI_BASE, or the "
              "platform's).")
@click.option("--deck", metavar="NAME", help="Only this deck and its sub-decks.")
@click.option("--search", default="", metavar="QUERY", help="Only the notes an Anki search "
              "finds.")
@click.option("--into", "into", metavar="DIR", default="source", show_default=True,
              help="The source folder to write the Markdown into.")
@media_option
@click.option("--dry-run", is_flag=True, help="Say what would be adopted; write nothing.")
@click.option("--convert", is_flag=True, help="Also move the notes to this tool's note types "
              "inside the collection, for one look everywhere: a one-way sync to every "
              "device.")
def adopt_command(package, profile, collection_path, base, deck, search, into, media,
                  dry_run, convert) -> None:
    """Take over cards you already have in Anki: Markdown for each, reviews kept."""
    from pathlib import Path

    from generator import adoption, build

    if sum(map(bool, (package, profile, collection_path))) > 1:
        raise click.UsageError("choose one of PACKAGE, --profile and --collection")
    if deck and search:
        raise click.UsageError("choose one of --deck and --search")
    if not Path(into).is_dir():
        if dry_run:  # nothing is written, the folder included
            from generator.project import Project

            cwd = Path.cwd().resolve()
            project = Project(cwd, cwd / into, (cwd / (media or "media")).resolve(), None)
        else:
            Path(into).mkdir(parents=True)
    if Path(into).is_dir():
        project = build.load_project(into, media)
    result = adoption.run(project, package, collection_path, profile, base, deck, search,
                          dry_run, convert)
    _echo(report.adopted(result))


@cli.command("login")
@click.option("--endpoint", metavar="URL", envvar="ANKI_SYNC_ENDPOINT",
              help="A self-hosted sync server (default: AnkiWeb; or ANKI_SYNC_ENDPOINT).")
def login_command(endpoint) -> None:
    """Log in to AnkiWeb (or your sync server) for 'deck push'; keeps the sync key only."""
    from generator import collection, credentials

    collection.backend()
    username = os.environ.get("ANKI_SYNC_USERNAME") or click.prompt("user name (e-mail)")
    password = os.environ.get("ANKI_SYNC_PASSWORD") or click.prompt("password",
                                                                      hide_input=True)
    with collection.sync_errors("nothing was stored"):
        hkey, server = collection.login(username, password, endpoint or None)
    path = credentials.store(hkey, server, username)
    click.echo(f"logged in to {server or 'AnkiWeb'} as {username}; the sync key (not the "
               f"password) is in {path}")


@cli.command("logout")
def logout_command() -> None:
    """Forget the sync key 'deck login' stored."""
    from generator import credentials

    if credentials.forget():
        click.echo(f"removed the sync key {credentials.key_path()}")
    else:
        click.echo("no sync key was stored")


@cli.command("pending")
@source_option
@click.option("--done", "done", metavar="ID[,ID...]|all",
              help="Mark these steps done (their ids as listed, or 'all').")
def pending_command(source, done) -> None:
    """List what is still to be done in Anki: notes to delete, cards to move, empty cards."""
    from generator import build, pending

    project = build.load_project(source)
    lock, steps = pending.load(project.lock_path)
    if done is None:
        _echo(report.pending_steps(steps))
        return
    chosen_steps = _chosen_steps(done, steps)
    if lock is not None and chosen_steps:
        pending.write_done(project.lock_path, lock, chosen_steps, project.memory_path)
    _echo(report.steps_done(chosen_steps, len(steps)))


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
@verbose_option
def preview_command(source, media, output, open_page, select, ignore) -> None:
    """Write build/preview/index.html: every card, both sides, day and night."""
    from pathlib import Path

    from generator import build

    project = build.load_project(source, media)
    result = build.write_preview(project, Path(output).resolve() if output else None)
    _echo(report.findings(chosen(result.diagnostics, select, ignore), project.source),
          err=True)
    click.echo(report.preview(result))
    if open_page:
        _open(result.index)


@cli.command("watch")
@source_option
@media_option
@preview_dir_option
@open_option
@jobs_option
@no_cache_option
@select_option
@ignore_option
@verbose_option
def watch_command(source, media, output, open_page, jobs, no_cache, select, ignore) -> None:
    """Rebuild the package and the preview whenever a source or media file changes."""
    import gc
    from pathlib import Path

    from generator import build, watch

    gc.enable()  # a long-running process: each build pauses the collector while it runs

    project = build.load_project(source, media)
    click.echo("watching for changes; press Ctrl-C to stop", err=True)
    opened = not open_page
    try:
        for outcome in watch.run(project, Path(output).resolve() if output else None,
                                 workers=jobs, use_cache=not no_cache):
            _echo(report.findings(chosen(outcome.diagnostics, select, ignore),
                                  project.source), err=True)
            stamp = time.strftime("%H:%M:%S")
            if outcome.summary is not None:
                first, *rest = report.summary(outcome.summary, project.source)
                _echo([f"[{stamp}] {first}", *rest])
            elif outcome.error:
                click.echo(f"[{stamp}] deck: error: {outcome.error}", err=True)
            else:
                errors = error_count(outcome.diagnostics)
                click.echo(f"[{stamp}] {report.counted(errors, 'error')}; kept the last good "
                           "package", err=True)
            if not opened and outcome.preview is not None:
                _open(outcome.preview)
                opened = True
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)


def _open(page) -> None:
    import webbrowser

    webbrowser.open(page.as_uri())


def _echo(lines: list[str], err: bool = False) -> None:
    for line in lines:
        click.echo(line, err=err)


class _LazyProgress:
    """A progress bar that appears only when rendering takes more than a moment."""

    DELAY = 0.5

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.bar: ProgressBar[int] | None = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY or not sys.stderr.isatty():
                return
            bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            self.bar = bar.__enter__()
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
        _echo(report.findings(failure.diagnostics, failure.source), err=True)
        click.echo(report.refused(failure.diagnostics), err=True)
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
