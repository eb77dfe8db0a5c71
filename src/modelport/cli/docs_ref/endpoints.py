"""The endpoints page, from the app's OpenAPI document, the access policy and the gRPC
method table."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from modelport.cli.docs_ref.text import GENERATED, MissingDescriptionError, cell

__all__ = ["TAG_PAGES", "endpoints_page"]

#: OpenAPI tag -> the title and path of the page that explains its endpoints.
TAG_PAGES: dict[str, tuple[str, str]] = {
    "health": ("Native API", "native-api.md#health"),
    "models": ("Native API (KServe V1)", "native-api.md"),
    "MLflow scoring protocol": ("MLflow scoring protocol", "mlflow.md"),
    "Open Inference Protocol (V2)": ("Open Inference Protocol V2 (REST)", "v2-rest.md"),
    "management": ("Management API", "management-api.md"),
    "rollouts": ("Rollouts", "../how-to/rollouts.md"),
    "custom routes": ("Custom routes", "../how-to/custom-routes.md"),
    "metrics": ("Metrics", "metrics.md"),
}

ACCESS_TEXT = {
    "open": "open",
    "api": "open (token with `api_token`)",
    "admin": "admin token",
}

ENDPOINTS_INTRO = """\
# Endpoints

Every HTTP endpoint of a server, from its OpenAPI document (`GET /openapi.json`, browsable
at `/docs`), and every gRPC method. "Access" is who may call it (see the
[security model](../security.md)): *open* needs no token; *open (token with `api_token`)*
is open unless the setting `api_token` is set; *admin token* always needs
`Authorization: Bearer <token>`. Your [custom routes](../how-to/custom-routes.md) are
added to this list, as *open (token with `api_token`)*, or *admin token* with `admin: true`.

"""


def _openapi() -> dict[str, Any]:
    from modelport.api import create_app
    from modelport.config import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(model_dir=Path(folder) / "models", data_dir=Path(folder))
        app = create_app(settings)
        spec: dict[str, Any] = app.openapi()
    return spec


def endpoints_page() -> str:
    from modelport.access import GRPC_METHODS, access_for

    spec = _openapi()
    by_tag: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        access = ACCESS_TEXT[access_for(concrete).value]
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            summary = operation.get("summary") or ""
            if not summary:
                raise MissingDescriptionError(f"{method.upper()} {path} has no summary")
            by_tag.setdefault(tag, []).append(
                f"| `{method.upper()}` | `{path}` | {access} | {cell(summary)} |\n"
            )
    out = [GENERATED, ENDPOINTS_INTRO]
    for tag, rows in by_tag.items():
        page = TAG_PAGES.get(tag)
        if page is None:
            raise MissingDescriptionError(f"OpenAPI tag '{tag}' has no page in TAG_PAGES")
        title, link = page
        out.append(f"## {tag[0].upper()}{tag[1:]}\n\nExplained in [{title}]({link}).\n\n")
        out.append("| method | path | access | what |\n| --- | --- | --- | --- |\n")
        out.extend(rows)
        out.append("\n")
    out.append(
        "## API docs\n\n| method | path | access | what |\n| --- | --- | --- | --- |\n"
        f"| `GET` | `/docs` | {ACCESS_TEXT[access_for('/docs').value]} | Swagger UI, "
        "served from the package (no CDN) |\n"
        f"| `GET` | `/openapi.json` | {ACCESS_TEXT[access_for('/openapi.json').value]} | "
        "The OpenAPI 3.1 document |\n"
        f"| `GET` | `/static/...` | {ACCESS_TEXT[access_for('/static/x').value]} | "
        "Swagger UI's files |\n\n"
    )
    out.append(
        "## gRPC\n\nService `inference.GRPCInferenceService` on `grpc_port`, explained in "
        "[Open Inference Protocol V2 (gRPC)](v2-grpc.md).\n\n| method | access |\n| --- | --- |\n"
    )
    for rpc, rule in GRPC_METHODS.items():
        out.append(f"| `{rpc}` | {ACCESS_TEXT[rule.value]} |\n")
    return "".join(out)
