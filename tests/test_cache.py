"""The cache and the process pool change how fast a build is, never what it writes."""

from __future__ import annotations

import shutil

import pytest

from generator import build, pool
from generator import lock as lockfile
from tests.conftest import PNG, make_project

NOW = 1_800_000_000


def sources(files: int = 6, cards: int = 15) -> dict[str, str]:
    out = {}
    for f in range(files):
        body = "".join(f"## Question {f}.{c} about $x_{c}$?\n\nAnswer with `code` and\n\n"
                       f"```python\nprint({c} * {f})\n```\n\n![fig](fig.png)\n\n"
                       for c in range(cards))
        out[f"part{f}/topic{f}.md"] = f"# Topic {f}\n\n{body}"
    return out


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "PARALLEL_BYTES", 0)  # use the pool even for a small project
    monkeypatch.setattr(pool, "ALONGSIDE_BYTES", 0)
    root = make_project(tmp_path, sources(), {"media/fig.png": PNG})
    return build.load_project(output="out.apkg", cwd=root)


def package_bytes(project, **options) -> bytes:
    summary, _ = build.build(project, now=NOW, **options)
    return (project.root / "out.apkg").read_bytes()


def reset(project) -> None:
    """Back to a first build of the project: a lock holding only its project value (what
    makes its GUIDs its own), no cache, no package."""
    path = project.source / "deck.lock"
    path.write_text(lockfile.render_lock((), 0, {}, {}, {}, lockfile.read(path).project))
    shutil.rmtree(project.root / "build", ignore_errors=True)
    (project.root / "out.apkg").unlink(missing_ok=True)


def test_output_is_the_same_with_any_number_of_workers_and_with_the_cache(project):
    one = package_bytes(project, workers=1, use_cache=False)
    lock = (project.source / "deck.lock").read_bytes()
    for options in ({"workers": 2, "use_cache": False}, {"workers": 3, "use_cache": True}):
        reset(project)
        assert package_bytes(project, **options) == one, options
        assert (project.source / "deck.lock").read_bytes() == lock
    # every file now comes from the cache
    _, compiled = build.build(project, now=NOW)
    assert compiled.fresh == () and (project.root / "out.apkg").read_bytes() == one


def test_a_corrupt_cache_is_ignored_and_rebuilt(project):
    first = package_bytes(project)
    entries = list((project.root / "build" / "cache" / "files").rglob("*"))
    files = [e for e in entries if e.is_file()]
    assert len(files) == 6
    files[0].write_bytes(b"not a pickle")
    files[1].write_bytes(files[1].read_bytes()[:40])  # truncated
    _, compiled = build.build(project, now=NOW)
    assert len(compiled.fresh) == 2
    assert (project.root / "out.apkg").read_bytes() == first


def test_a_changed_image_invalidates_the_cards_that_show_it(project):
    _, first = build.build(project, now=NOW)
    (project.root / "media" / "fig.png").write_bytes(PNG.replace(b"\x63\xf8", b"\x63\xf9"))
    summary, again = build.build(project, now=NOW + 10)
    assert len(again.fresh) == 6  # every file shows the image
    assert {m.name for m in first.media} != {m.name for m in again.media}
    assert summary.changed == 90  # the field holds the new content-hashed name


def test_an_edit_re_renders_only_its_file(project):
    build.build(project, now=NOW)
    path = project.source / "part2" / "topic2.md"
    path.write_text(path.read_text().replace("Question 2.3 ", "Question 2.3, reworded, "))
    summary, compiled = build.build(project, now=NOW + 10)
    assert [r.path for r in compiled.fresh] == ["part2/topic2.md"]
    assert (summary.changed, summary.new) == (1, 0)


def test_a_no_op_rebuild_does_not_rewrite_the_package_unless_it_was_touched(project):
    first = package_bytes(project)
    package = project.root / "out.apkg"
    written = package.stat().st_mtime_ns
    build.build(project, now=NOW + 10)
    assert package.stat().st_mtime_ns == written  # same bytes would be written: skipped
    package.write_bytes(b"damaged")
    build.build(project, now=NOW + 20)
    assert package.read_bytes() == first


def cache_entries(project) -> list[str]:
    (scope,) = (project.root / "build" / "cache" / "files").iterdir()
    return sorted(p.name for p in scope.iterdir())


def test_a_failed_build_leaves_no_cache_and_no_staged_entries(project):
    (project.source / "part0" / "topic0.md").write_text("# Topic\n\n## Broken $x\n\nBack\n")
    with pytest.raises(build.BuildFailed):
        build.build(project, now=NOW, workers=2)  # five good files were rendered and staged
    assert not (project.root / "build").exists()


def test_the_cache_keeps_one_entry_per_source_file_through_edits(project):
    build.build(project, now=NOW, workers=2)
    first = cache_entries(project)
    assert len(first) == 6 and not any(name.startswith(".") for name in first)
    path = project.source / "part2" / "topic2.md"
    for n in range(3):
        path.write_text(path.read_text().replace("Question 2.3", f"Question 2.3 ({n})"))
        build.build(project, now=NOW + 10 + n, workers=2)
    after = cache_entries(project)
    assert len(after) == 6 and len(set(after) - set(first)) == 1  # the edited file's entry


def test_a_build_without_the_cache_leaves_the_cache_alone(project):
    build.build(project, now=NOW)
    entries = cache_entries(project)
    build.build(project, now=NOW, use_cache=False)
    assert cache_entries(project) == entries


def test_two_decks_of_one_project_keep_their_own_cache(tmp_path):
    root = make_project(tmp_path, {"a.md": "# A\n\n## qa\n\nba\n"})
    (root / "other").mkdir()
    (root / "other" / "b.md").write_text("# B\n\n## qb\n\nbb\n")
    a = build.load_project(output="a.apkg", cwd=root)
    b = build.load_project(source="other", output="b.apkg", cwd=root)
    fresh = [len(build.build(p, now=NOW)[1].fresh) for p in (a, b, a, b)]
    assert fresh == [1, 1, 0, 0]


def test_what_a_killed_build_left_in_the_cache_goes_after_an_hour(project):
    import os

    build.build(project, now=NOW)
    (scope,) = (project.root / "build" / "cache" / "files").iterdir()
    old, young = scope / ".staging-old", scope / ".staging-young"
    for folder in (old, young):
        folder.mkdir()
        (folder / "entry").write_bytes(b"half")
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001
    stale = scope.parent / ("0" * 64)  # an entry of an older version of the cache
    stale.write_bytes(b"old")
    path = project.source / "part1" / "topic1.md"
    path.write_text(path.read_text() + "\n## One more?\n\nYes.\n")
    build.build(project, now=NOW + 10)
    assert not old.exists() and young.exists()  # a build running now may own the young one
    assert not stale.exists()


def test_ctrl_c_while_the_cache_is_stored_says_what_was_written(project, monkeypatch):
    from generator import cache
    from generator.diagnostics import Interrupted

    real = cache.os.replace

    def interrupted(src, dst):
        if "staging" in str(src):
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(cache.os, "replace", interrupted)
    with pytest.raises(Interrupted, match="after writing '.*out.apkg' and the lock"):
        build.build(project, now=NOW, workers=2)
    assert (project.root / "out.apkg").is_file() and (project.source / "deck.lock").is_file()
    files = project.root / "build" / "cache" / "files"
    assert not [p for p in files.rglob("*") if ".staging" in str(p)]
