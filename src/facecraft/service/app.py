"""The FastAPI app factory: routers, error shapes from API.md (the one place where ``facecraft.errors``
classes become HTTP statuses), the API docs from packaged assets, the portal's static files, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from facecraft import __version__
from facecraft.errors import (
    AuthError,
    ConflictError,
    FacecraftError,
    NotFoundError,
    SessionLimitError,
    TooLargeError,
    public_error_id,
)
from facecraft.service.pal_service import PAL, PERSONA
from facecraft.service.redact import redact_paths
from facecraft.service.routers import (
    calls,
    conversations,
    documents,
    media,
    openai_audio,
    uploads,
    validation,
    videos,
    voices,
)
from facecraft.service.routers.faces import build_router
from facecraft.service.routers.pals import build_pal_router
from facecraft.service.runtime import Runtime
from facecraft.service.settings import Settings
from facecraft.service.views import FACE, REPLICA

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is migrated and the worker started when the app starts up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from facecraft.service.live import LiveConversations

        runtime = Runtime.open(settings)
        app.state.runtime = runtime
        runtime.start()
        try:
            # One session manager per app: every live call is its own process under the configured cap.
            live = LiveConversations(settings, runtime.db, runtime.webhooks)
            app.state.live = live
            await live.recover()
            try:
                yield
            finally:
                await live.close()  # server shutdown ends every call (system.shutdown webhooks)
                await to_thread.run_sync(runtime.webhooks.join, 5.0)  # delivered before the process exits
        finally:
            runtime.close()

    app = FastAPI(
        title="facecraft",
        version=__version__,
        description="Tavus-v2-compatible API for photorealistic talking Faces (see reference/API.md).",
        lifespan=lifespan,
        docs_url=None,  # served by _mount_docs from packaged assets: no CDN, works offline
        redoc_url=None,
    )
    _install_error_handlers(app)
    _mount_docs(app)
    _document_errors(app)
    # Validation routes first: /v2/faces/image-validation must not be taken for GET/PATCH /v2/faces/{id}.
    app.include_router(validation.router)
    app.include_router(build_router(FACE))
    app.include_router(build_router(REPLICA))
    app.include_router(uploads.router)
    app.include_router(videos.router)
    app.include_router(voices.router)
    app.include_router(build_pal_router(PAL))
    app.include_router(build_pal_router(PERSONA))
    app.include_router(documents.router)
    app.include_router(media.router)
    app.include_router(conversations.router)
    app.include_router(calls.router)
    app.include_router(openai_audio.router)
    _mount_portal(app)
    return app


def _mount_portal(app: FastAPI) -> None:
    from facecraft.web import INDEX_HTML, STATIC_DIR

    @app.get("/", include_in_schema=False)
    def portal() -> FileResponse:
        if not INDEX_HTML.is_file():
            raise NotFoundError("the Maker portal is not installed")
        return FileResponse(INDEX_HTML, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


# HTTP status of each error class, most specific first (an AuthError is no InputError, a NotFoundError is).
HTTP_STATUS: tuple[tuple[type[FacecraftError], int], ...] = (
    (AuthError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (SessionLimitError, 429),
    (FacecraftError, 400),
)


def http_status(exc: FacecraftError) -> int:
    return next(status for cls, status in HTTP_STATUS if isinstance(exc, cls))


def error_body(exc: FacecraftError) -> dict[str, str]:
    """API.md's error shapes; the sentence never carries a server path, the id is one clients may see."""
    if isinstance(exc, AuthError):
        return {"message": "Invalid access token"}
    body = {"error": redact_paths(exc.message)}
    if isinstance(exc, ConflictError):
        body["status"] = exc.status
    else:
        body["error_id"] = public_error_id(exc.error_id, "invalid_input")
    return body


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FacecraftError)
    async def facecraft_error(_: Request, exc: FacecraftError) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=http_status(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _describe(exc), "error_id": "invalid_input"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 401:
            return JSONResponse({"message": "Invalid access token"}, status_code=401)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal server error"}, status_code=500)


def _mount_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts from the ``fastapi-offline`` package."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    assets = _docs_assets()
    app.mount("/static-docs", StaticFiles(directory=assets), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url="/static-docs/swagger-ui-bundle.js",
            swagger_css_url="/static-docs/swagger-ui.css",
            swagger_favicon_url="/static-docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API reference",
            redoc_js_url="/static-docs/redoc.standalone.js",
            redoc_favicon_url="/static-docs/favicon.png",
            with_google_fonts=False,
        )


def _docs_assets() -> str:
    """The folder of swagger-ui and redoc builds that ``fastapi-offline`` (pinned) ships."""
    from importlib.resources import files

    return str(files("fastapi_offline") / "static")


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_id": {"type": "string"}},
}
AUTH_SCHEMA = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def _document_errors(app: FastAPI) -> None:
    """Describe the errors API.md promises (400/401/404 bodies) instead of FastAPI's default 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["400"] = _json_response("Bad request", ERROR_SCHEMA)
                responses["401"] = _json_response("Invalid access token", AUTH_SCHEMA)
                responses["404"] = _json_response("Not found", ERROR_SCHEMA)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _json_response(description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)
