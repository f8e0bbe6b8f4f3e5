"""The optional Swagger UI page at ``/api/docs`` (``OPENDREAM_API_DOCS=1``; off by default).

Swagger UI is not packaged with Opendream: the page loads FastAPI's default script and
stylesheet from their CDN. So it is off unless asked for, and when on, its own
Content-Security-Policy allows exactly that origin (the rest of the app allows none)."""

from __future__ import annotations

import inspect
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_PATH = "/api/docs"


def _asset_origins() -> list[str]:
    """Origins of FastAPI's default Swagger UI script and stylesheet."""
    defaults = inspect.signature(get_swagger_ui_html).parameters
    urls = [defaults[name].default for name in ("swagger_js_url", "swagger_css_url")]
    return sorted({f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in urls})


def docs_policy() -> str:
    """The docs page's CSP: its assets' origin, and the inline script that starts it."""
    origins = " ".join(_asset_origins())
    return (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {origins}; "
        f"style-src 'self' {origins}; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


def add_docs_page(app: FastAPI) -> None:
    """Serve Swagger UI over the app's OpenAPI document at ``DOCS_PATH``."""

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title} API")
        page.headers["Content-Security-Policy"] = docs_policy()
        return page
