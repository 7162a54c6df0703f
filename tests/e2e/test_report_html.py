"""report.html in a real browser: headless Chromium renders it with its plots and tables, no console errors,
and nothing is fetched from a network."""
from __future__ import annotations

import re
import shutil
import subprocess

from tests.support.requirements import missing

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        missing("chromium not installed (.ci/run installs Debian's chromium)")
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


def test_report_html_renders_in_chromium(tiny_run, tmp_path):
    run_dir, report, _ = tiny_run
    page = run_dir / "report.html"
    html = page.read_text()
    # Self-contained: no script, no stylesheet or image from anywhere else.
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)

    dom = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count("<svg") >= 2  # the Pareto plot and the stage waterfall
    assert "local: accuracy vs latency" in dom.stdout
    assert "<table>" in dom.stdout and "student (KD, pruned)" in dom.stdout and "onnxruntime" in dom.stdout
    assert "Int8 sensitivity" in dom.stdout and "Targets" in dom.stdout
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert console == [], console

    shot = tmp_path / "report.png"
    result = chromium(["--window-size=1200,2000", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert result.returncode == 0 and shot.stat().st_size > 20_000  # a page with plots, not a blank one
