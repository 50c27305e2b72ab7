"""The table of findings held to the sources and to README, and the `--select`/`--ignore`
choice over it.

A module emits a code where one of its string literals is the code (`"W301"`) or prints a
finding (`f"{pos}: I001 ..."`); docstrings and comments only talk about codes. Code moves
between modules: when an owner test fails because a rule moved, move its owner in the table
too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from generator.diagnostics import CODES, Diagnostic, Finding, Severity, chosen, matching
from generator.model import SourcePos

ROOT = Path(__file__).resolve().parent.parent
_MENTION = re.compile(r"\b[EWI]\d{3}\b")
_EMISSION = re.compile(r"^([EWI]\d{3})$|: ([EWI]\d{3}) ")


def _docstrings(tree: ast.AST) -> set[int]:
    holders = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, holders) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)}


def _literals() -> dict[str, list[str]]:
    """The string literals of each module of generator/ (the table's own aside), docstrings
    left out; an f-string's literal parts count."""
    found = {}
    for path in sorted((ROOT / "generator").glob("*.py")):
        if path.stem == "diagnostics":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skipped = _docstrings(tree)
        found[path.stem] = [node.value for node in ast.walk(tree)
                            if isinstance(node, ast.Constant) and isinstance(node.value, str)
                            and id(node) not in skipped]
    return found


def _by_code(pattern: re.Pattern) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for module, texts in LITERALS.items():
        for text in texts:
            for match in pattern.finditer(text):
                code = next(group for group in (match.groups() or [match.group()]) if group)
                found.setdefault(code, set()).add(module)
    return {code: frozenset(modules) for code, modules in found.items()}


LITERALS = _literals()
MENTIONED = _by_code(_MENTION)  # in messages and help too: no code made up
EMITTED = _by_code(_EMISSION)


def test_every_code_in_the_sources_is_in_the_table():
    missing = {code: sorted(modules) for code, modules in MENTIONED.items()
               if code not in CODES}
    assert not missing, f"codes in generator/ but not in diagnostics.CODES: {missing}"


def test_every_emitted_code_is_in_the_table():
    missing = {code: sorted(modules) for code, modules in EMITTED.items()
               if code not in CODES}
    assert not missing, f"codes emitted but not in diagnostics.CODES: {missing}"


def test_every_code_in_the_table_is_emitted():
    unused = [code for code in CODES if code not in EMITTED]
    assert not unused, f"codes in the table that no module emits: {unused}"


def test_each_code_is_emitted_by_its_owner():
    wrong = {code: (f.owner, sorted(EMITTED.get(code, ()))) for code, f in CODES.items()
             if f.owner not in EMITTED.get(code, ())}
    assert not wrong, f"code: (owner in the table, modules emitting it): {wrong}"


def test_no_code_is_emitted_outside_its_owner():
    """One rule, one home: a code emitted from two modules is a rule split in two."""
    strays = {code: sorted(modules - {CODES[code].owner}) for code, modules in EMITTED.items()
              if code in CODES and modules - {CODES[code].owner}}
    assert not strays, f"codes emitted outside their owner module: {strays}"


def test_the_table_is_keyed_by_its_records_codes():
    assert all(isinstance(f, Finding) and f.code == code for code, f in CODES.items())
    with pytest.raises(TypeError):
        CODES["W999"] = CODES["W301"]  # type: ignore[index]


def test_a_codes_letter_says_its_severity():
    letters = {Severity.ERROR: "E", Severity.WARNING: "W", Severity.INFO: "I"}
    wrong = [code for code, f in CODES.items() if code[0] != letters[f.severity]]
    assert not wrong, wrong


def test_a_findings_severity_comes_from_the_table():
    pos = SourcePos("a.md", 1)
    assert [Diagnostic(pos, code, "m").severity for code in ("E103", "W301", "I001")] == [
        Severity.ERROR, Severity.WARNING, Severity.INFO]


def _readme_codes() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([EWI]\d{3})` \|", readme, flags=re.M)


def test_readme_lists_exactly_the_tables_codes():
    listed = _readme_codes()
    twice = sorted({code for code in listed if listed.count(code) > 1})
    assert not twice, f"README lists these codes more than once: {twice}"
    assert sorted(listed) == sorted(CODES), (
        f"in README only: {sorted(set(listed) - set(CODES))}; "
        f"in the table only: {sorted(set(CODES) - set(listed))}")


def test_a_value_names_a_code_or_the_codes_it_starts():
    assert matching("W301") == ("W301",)
    assert matching("W3") == ("W301",)
    assert set(matching("E9")) == {"E901", "E902", "E903", "E904"}
    assert set(matching("W")) == {c for c, f in CODES.items() if f.severity is Severity.WARNING}
    assert matching("X999") == matching("W30 ") == ()


_FOUND = tuple(Diagnostic(SourcePos("a.md", n), code, "m")
               for n, code in enumerate(("E103", "W301", "W407", "E601", "W602"), 1))


def _codes(select=(), ignore=()) -> list[str]:
    return [d.code for d in chosen(_FOUND, select, ignore)]


@pytest.mark.parametrize("select, ignore, kept", [
    ((), (), ["E103", "W301", "W407", "E601", "W602"]),
    ((), ("W3",), ["E103", "W407", "E601", "W602"]),
    ((), ("W", "E601"), ["E103"]),
    (("W",), (), ["W301", "W407", "W602"]),
    (("E6", "W4"), (), ["W407", "E601"]),
    (("W",), ("W301",), ["W407", "W602"]),  # the longer value wins
    (("W301",), ("W",), ["W301"]),
    (("W301",), ("W301",), []),  # on a tie, ignore
    (("I",), (), []),
])
def test_chosen_decides_as_flake8(select, ignore, kept):
    assert _codes(select, ignore) == kept


def test_chosen_keeps_order_and_returns_a_tuple():
    kept = chosen(list(reversed(_FOUND)), (), ("E",))
    assert isinstance(kept, tuple) and [d.code for d in kept] == ["W602", "W407", "W301"]
