"""The UI's vendored files are the versions ui/package-lock.json pins (make ui-vendor)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "src" / "modelport" / "web" / "ui" / "vendor"


def test_the_vendored_chart_library_is_the_pinned_version() -> None:
    lock = json.loads((ROOT / "ui" / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/uplot"]["version"]
    assert json.loads((ROOT / "ui" / "package.json").read_text())["dependencies"]["uplot"] == pinned
    header = (VENDOR / "uPlot.iife.min.js").read_text().splitlines()[0]
    assert f"(v{pinned})" in header
    assert (VENDOR / "uPlot.min.css").stat().st_size > 0
    assert "MIT" in (VENDOR / "uPlot.LICENSE").read_text()
