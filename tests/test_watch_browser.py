"""`deck watch` keeps an open preview page current: it reloads itself after a save."""

from __future__ import annotations

import queue
import threading

import pytest
from playwright import sync_api

from generator import build, watch
from tests.conftest import make_project
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


def test_the_open_preview_reloads_after_a_save(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    root = make_project(tmp_path, {"a.md": "# A\n\n## First question\n\nfirst answer\n"})
    project = build.load_project(cwd=root)
    outcomes: queue.Queue = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [outcomes.put(o) for o in
                                              watch.run(project, stop=stop)], daemon=True)
    thread.start()
    try:
        first = outcomes.get(timeout=20)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(first.preview.as_uri())
            assert page.locator("article.preview-card").count() == 1
            page.wait_for_timeout(1500)  # the page has read version.js once
            (root / "source" / "a.md").write_text("# A\n\n## First question\n\nfirst answer\n"
                                                  "\n## Second question\n\nsecond answer\n")
            assert outcomes.get(timeout=20).summary.new == 1
            page.wait_for_function(
                "document.querySelectorAll('article.preview-card').length === 2",
                timeout=10_000)
            assert "Second question" in page.locator("#cards").inner_text()
            browser.close()
    finally:
        stop.set()
        thread.join(timeout=10)
