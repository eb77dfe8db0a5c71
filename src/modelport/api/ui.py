"""The browser UI: ``/ui`` and its files under ``/static/ui``, served from the package.

The page is plain HTML, CSS and one JavaScript module (``web/ui``): no CDN and no build
step, so it works with no internet and first loads in a few tens of KB. A strict
Content-Security-Policy allows only this server's own script, style and requests: even a
value that slipped into the page as markup could not run script or send data elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, RedirectResponse

__all__ = ["UI_HEADERS", "install_ui"]

_ASSETS = Path(__file__).resolve().parent.parent / "web" / "ui"
_PAGE = "/ui"

#: Headers of the UI page: only this origin's script, style and fetches; no framing.
UI_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def install_ui(app: FastAPI, root_taken: bool) -> None:
    """Serve the UI at /ui, its files under /static/ui, and send ``GET /`` there unless
    a custom route answers ``/`` (an old app's home page keeps its URL)."""
    app.mount("/static/ui", StaticFiles(directory=_ASSETS), name="ui")
    page = (_ASSETS / "index.html").read_text(encoding="utf-8")

    async def ui() -> HTMLResponse:
        return HTMLResponse(page, headers=UI_HEADERS)

    app.add_api_route(_PAGE, ui, include_in_schema=False, methods=["GET"])
    if not root_taken:

        async def home() -> RedirectResponse:
            return RedirectResponse(_PAGE, status_code=307)

        app.add_api_route("/", home, include_in_schema=False, methods=["GET"])
