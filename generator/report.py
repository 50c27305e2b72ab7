"""What the commands print: pure functions from results to lines of text or JSON (the CLI
only echoes them). Paths are shown relative to the current folder, as compilers show
theirs, so a terminal or an editor opens `path:line:col` directly."""

from __future__ import annotations

import json
import os
from typing import Iterable, Sequence

from generator.diagnostics import Diagnostic, error_count, located, short, shown_path
from generator.model import Note, Summary


def s(n: int) -> str:
    return "" if n == 1 else "s"


def counted(n: int, word: str) -> str:
    return f"{n} {word}{s(n)}"


def relative(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def findings(diagnostics: Iterable[Diagnostic], source=None) -> list[str]:
    return [located(d, source) for d in diagnostics]


def findings_json(diagnostics: Iterable[Diagnostic], source=None) -> str:
    return json.dumps([{"path": shown_path(d.pos.path, source), "line": d.pos.line,
                        "col": d.pos.col, "code": d.code, "severity": d.severity.value,
                        "message": d.message} for d in diagnostics], indent=2)


def refused(diagnostics: Sequence[Diagnostic]) -> str:
    return f"{counted(error_count(diagnostics), 'error')}; nothing was written"


def check_totals(diagnostics: Sequence[Diagnostic], notes: Sequence[Note]) -> str:
    errors = error_count(diagnostics)
    warnings = len(diagnostics) - errors
    files = len({n.card.pos.path for n in notes})
    found = (f"{counted(errors, 'error')}, {counted(warnings, 'warning')}" if diagnostics
             else "no problems")
    return f"{found} in {counted(len(notes), 'card')} from {counted(files, 'file')}"


_ACTIONS = {"delete": "deletion", "move": "deck move", "empty": "empty-card cleanup"}


def summary(result: Summary, source=None) -> list[str]:
    """The summary line; the cards that kept a reworded card's identity; what is still to
    be done in Anki."""
    notes = result.new + result.changed + result.unchanged
    lines = [f"built {relative(result.output)}: {counted(result.decks, 'deck')}, "
             f"{counted(notes, 'note')} ({result.new} new, {result.changed} changed, "
             f"{result.unchanged} unchanged, {len(result.removed)} removed from sources), "
             f"{counted(result.media, 'media file')}, {result.seconds:.2f} s"]
    for note in result.reworded:
        pos = note.card.pos
        lines.append(f"  {shown_path(pos.path, source)}:{pos.line}:{pos.col}: kept the "
                     f"identity of reworded card '{short(note.renamed_from or '')}'")
    if result.pending:
        counts = {a: result.pending.count(a) for a in dict.fromkeys(result.pending)}
        what = ", ".join(counted(n, _ACTIONS[a]) for a, n in counts.items())
        lines.append(f"{counted(len(result.pending), 'step')} to do in Anki that an import "
                     f"cannot ({what}): 'deck pending' shows them")
    return lines


def pending_steps(steps) -> list[str]:
    if not steps:
        return ["nothing to do in Anki: it has every change an import can make"]
    lines = [f"{counted(len(steps), 'step')} to do in Anki, after importing the latest build:"]
    for step in steps:
        lines += [f"[{step.id}] {step.title}", f"   {step.how}", f"   search: {step.search}"]
    lines.append(f"when done: deck pending --done {','.join(step.id for step in steps)} (or "
                 "the ids of those done)")
    return lines


def steps_done(done, total: int) -> list[str]:
    return [*(f"done: {step.title}" for step in done),
            f"marked {counted(len(done), 'step')} done; {total - len(done)} left"]


def unpinned(notes: Sequence[Note]) -> list[str]:
    return [f"{n.card.pos}: I001 card has no pinned id (it is '{n.guid}'; run 'deck ids' "
            "to write it)" for n in notes if n.card.explicit_id is None]


def unpinned_total(count: int) -> str:
    return f"{counted(count, 'card')} without a pinned id"


def pinned(cards: int, files: int) -> str:
    return f"pinned {counted(cards, 'card')} in {counted(files, 'file')}"


def preview(result) -> str:
    return (f"wrote {relative(str(result.index))}: {counted(result.cards, 'note')}, "
            f"{counted(result.sides, 'card')}, {counted(result.media, 'media file')}")


def push_plan(result) -> list[str]:
    """`deck push --dry-run`: what a push would do, with fronts."""
    plan = result.plan
    lines = [f"would push to {_target(result)}:"]

    def listed(label: str, fronts) -> None:
        if fronts:
            lines.append(f"  {label} {len(fronts)}:")
            lines.extend(f"    {short(front)}" for front in fronts)

    listed("new", plan.new)
    listed("updated", plan.updated)
    listed("deleted", [f for w in plan.of("delete") if w.notes for f in w.fronts])
    listed("moved", [f"{f} -> {w.deck}" for w in plan.of("move") if w.cards for f in w.fronts])
    listed("empty cards removed", [f for w in plan.of("empty") if w.cards for f in w.fronts])
    listed("left alone (a note of another note type has the same identity)",
           plan.conflicting)
    if plan.reshaped:
        lines.append(f"  note types that need a one-way sync: {', '.join(plan.reshaped)}")
    lines.append(f"  unchanged {plan.unchanged}" if not plan.nothing else
                 f"  nothing to do: the collection has this build ({plan.unchanged} notes)")
    return lines


def pushed(result) -> list[str]:
    if result.plan.nothing and result.backup is None:
        return [f"pushed to {_target(result)}: nothing to do, the collection has this build "
                f"({result.unchanged} notes unchanged); nothing was changed or synced",
                *result.notes]
    line = (f"pushed to {_target(result)}: {result.new} new, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.deleted} deleted, {result.moved} moved"
            + (f", {result.emptied} empty cards removed" if result.emptied else "")
            + f"; {result.sync}"
            + (f", {counted(result.media, 'media file')} uploaded" if result.media else ""))
    lines = [line, *result.notes]
    if result.backup is not None:
        lines.append(f"backup: {result.backup} (to undo: Anki > File > Switch Profile, open "
                     "the profile, Tools > Restore Backup... and pick it)")
    return lines


def _target(result) -> str:
    where = result.where
    return f"profile '{where.profile}'" if where.base is not None else f"'{where.collection}'"


def adopted(result) -> list[str]:
    verb = "would adopt" if result.dry_run else "adopted"
    lines = [f"{verb} {counted(result.notes, 'note')} into "
             f"{counted(len(result.files), 'file')}"
             + (f", {counted(len(result.media), 'media file')} copied into media/"
                if result.media else "")
             + (f" (under your note types: {', '.join(result.kept_types)})"
                if result.kept_types else "")]
    lines += [f"  {rel}" for rel in result.files]
    if not result.notes and not result.skipped:
        lines.append("no notes found: check the deck's name or the search (as in Anki's "
                     "browser)")
    if result.kept_html:
        kept = len({front for front, _ in result.kept_html})
        lines.append(f"{counted(kept, 'note')} with HTML that Markdown cannot say, kept as "
                     "HTML:")
        lines += [f"  '{short(front)}': {short(what, 80)}" for front, what in result.kept_html]
    if result.notices:
        lines += [f"  '{short(front)}': {message}" for front, message in result.notices]
    if result.skipped:
        lines.append(f"{counted(len(result.skipped), 'note')} not adopted:")
        lines += [f"  {s.guid}: {s.reason}" for s in result.skipped]
    if result.converted:
        lines.append(f"moved {counted(result.converted, 'note')} to this tool's note types in "
                     "the collection (reviews kept): this needs a one-way sync. Open Anki, "
                     "sync and choose Upload; every other device then downloads the whole "
                     "collection, losing reviews it has not synced yet")
        lines.append(f"backup: {result.backup}")
        lines.append("next: 'deck build' and import (or 'deck push' after that sync): the "
                     "notes take this tool's rendering")
    elif not result.dry_run and result.notes:
        lines.append("next: 'deck build' (Anki then updates nothing: the cards are as they "
                     "were), edit the Markdown, build or push as usual")
    return lines
