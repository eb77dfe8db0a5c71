"""Interactive API docs that work offline: Swagger UI served from the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

__all__ = ["install_docs"]

_ASSETS = Path(__file__).resolve().parent.parent / "web" / "swagger-ui"
_PREFIX = "/static/swagger-ui"


def install_docs(app: FastAPI) -> None:
    """Mount the Swagger UI assets and the /docs page (no CDN, no internet needed)."""
    app.mount(_PREFIX, StaticFiles(directory=_ASSETS), name="swagger-ui")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{_PREFIX}/favicon-32x32.png",
        )

    app.add_api_route("/docs", docs, include_in_schema=False, methods=["GET"])
