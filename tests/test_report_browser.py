"""The HTML report in a real browser: headless Chromium, no console errors, every chart drawn.

No driver library: Chromium runs twice per page, once with ``--dump-dom`` on a copy of the
report that starts with a small probe script (it records console errors, uncaught errors,
CSP violations and, after ``load``, which plotly charts drew their SVG, into the DOM), and
once with ``--screenshot``. Chromium's own console log on stderr is checked as well.

Needs Debian's ``chromium`` (``apt-get install chromium``). Without it the tests skip, unless
``CONDUCTOR_REQUIRE_BROWSER`` is set (CI sets it): then they fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_report_html import PARTIAL, PARTIAL_SECTIONS, SECTIONS, build_full_result

from conductor.report._html import render_html

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]

PROBE = """<script>
(function () {
  var errors = [];
  window.__reportErrors = errors;
  var original = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    var t = e.target || {};
    errors.push("error: " + (e.message || t.src || t.href || t.tagName || "unknown"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + e.reason);
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
  });
  window.addEventListener("load", function () {
    setTimeout(function () {
      var charts = Array.prototype.map.call(
        document.querySelectorAll(".plotly-graph-div"),
        function (g) {
          var box = g.getBoundingClientRect();
          return {id: g.id, svg: g.querySelectorAll(".main-svg").length,
                  traces: (g.data || []).length, width: box.width, height: box.height};
        });
      var out = document.createElement("pre");
      out.id = "report-probe";
      out.textContent = JSON.stringify({
        errors: errors, charts: charts, plotly: typeof Plotly,
        sections: document.querySelectorAll("section.card").length,
        height: document.documentElement.scrollHeight});
      document.body.appendChild(out);
    }, 500);
  });
})();
</script>"""


@pytest.fixture(scope="session")
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CONDUCTOR_REQUIRE_BROWSER"):
        pytest.fail(f"CONDUCTOR_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium); set CONDUCTOR_REQUIRE_BROWSER to fail instead"
    )


@pytest.fixture(scope="session")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_full_result(tmp_path_factory.mktemp("report-run"))


def _chromium(exe: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def open_in_browser(exe: Path, page: str, folder: Path) -> dict[str, Any]:
    """Load the page with the probe; the probe's findings plus Chromium's console log."""
    probed = folder / "probed.html"
    probed.write_text(page.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    run = _chromium(
        exe, folder / "profile-dom", "--virtual-time-budget=15000", "--dump-dom", probed.as_uri()
    )
    m = re.search(r'<pre id="report-probe">(.*?)</pre>', run.stdout, re.S)
    assert m, f"the page never finished loading:\n{run.stderr[-3000:]}"
    import html

    found: dict[str, Any] = json.loads(html.unescape(m.group(1)))
    console = re.findall(r"CONSOLE\(?\d*\)?[^\]]*\] (.*)", run.stderr)
    found["console"] = [c for c in console if re.search(r"Uncaught|Refused|Failed to", c)]
    return found


def screenshot(exe: Path, page: str, folder: Path, height: int) -> Path:
    report = folder / "report.html"
    report.write_text(page, encoding="utf-8")
    shot = folder / "report.png"
    run = _chromium(
        exe,
        folder / "profile-shot",
        f"--window-size=1280,{min(max(height, 800), 16000)}",
        "--virtual-time-budget=15000",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.exists(), run.stderr[-3000:]
    return shot


def test_full_report_renders_in_chromium(
    chromium: Path, full: dict[str, Any], tmp_path: Path
) -> None:
    page = render_html(full)
    expected = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    assert len(expected) == 9
    found = open_in_browser(chromium, page, tmp_path)
    assert found["errors"] == []
    assert found["console"] == []
    assert found["plotly"] == "object"
    assert found["sections"] == len(SECTIONS) - 1  # all but LLM usage: an offline run
    assert [c["id"] for c in found["charts"]] == expected
    for chart in found["charts"]:
        assert chart["svg"] >= 1, chart  # plotly drew it
        assert chart["traces"] >= 1, chart
        assert 300 <= chart["width"] <= 1200, chart  # sized to its box, not overflowing it
    shot = screenshot(chromium, page, tmp_path, found["height"])
    assert shot.stat().st_size > 50_000  # a real picture, not a blank page


def test_partial_report_renders_in_chromium(chromium: Path, tmp_path: Path) -> None:
    found = open_in_browser(chromium, render_html(PARTIAL["failed steps"]), tmp_path)
    assert found["errors"] == []
    assert found["console"] == []
    assert found["charts"] == []
    assert found["sections"] == len(PARTIAL_SECTIONS["failed steps"])


def test_plugin_only_report_renders_in_chromium(chromium: Path, tmp_path: Path) -> None:
    # A run of a plugin agent alone: no empty sections for the built-in agents, its
    # insight under Findings.
    page = render_html(PARTIAL["test agent only"])
    assert "Note hello" in page
    found = open_in_browser(chromium, page, tmp_path)
    assert found["errors"] == []
    assert found["console"] == []
    assert found["charts"] == []
    assert found["sections"] == len(PARTIAL_SECTIONS["test agent only"])


def test_probe_catches_errors(chromium: Path, tmp_path: Path) -> None:
    # The probe itself must see a broken chart and a failed network request.
    page = render_html(PARTIAL["waiting"]).replace(
        "</main>",
        '<script>Plotly.newPlot("nowhere", []);</script><img src="https://example.invalid/x.png"></main>',
    )
    found = open_in_browser(chromium, page, tmp_path)
    assert any("CSP violation" in e for e in found["errors"]), found
    assert found["errors"] or found["console"]
