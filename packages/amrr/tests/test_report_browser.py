"""The design report opens offline in a real browser (Chromium): every plot decodes and the
page asks for nothing outside its own file."""

from __future__ import annotations

from amrr.design import default_design, evaluate
from amrr.report import write_report
from playwright.sync_api import sync_playwright


def test_report_renders_offline_in_chromium(chromium, tmp_path):
    path = write_report(evaluate(default_design()), tmp_path, "paper_design.toml")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(chromium.cdp_url)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
            )
            title = page.title()
        finally:
            browser.close()
    assert len(widths) == 4
    assert all(w > 0 for w in widths)
    assert "AMRR design report" in title
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
