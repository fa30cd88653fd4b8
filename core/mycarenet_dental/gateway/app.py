"""The web side of the gateway: Litestar routes made from RouteSpec records, the OpenAPI 3.1 contract
(from the same attrs models the Python API returns), the status page and the security headers.

Why Litestar: it reads attrs classes natively, so the contract is generated from the models the
Python API already uses (no second schema), it validates bodies with msgspec (fast) and serves the
interactive docs; uvicorn (:mod:`.serve`) is the production ASGI server.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Annotated, Any

import anyio
from litestar import Litestar, Request, Response, get, post, route
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.serialization import encode_json

from ..context import Context
from ..errors import Messages
from ..registrations import RouteSpec
from . import status as status_page
from .headers import SecurityHeaders
from .problems import ErrorBody, internal
from .service import Answer, Gateway
from .settings import GatewaySettings

JSON = "application/json"
_KW = inspect.Parameter.KEYWORD_ONLY
_ERRORS = {400: "Bad input: `location` names the field", 401: "No or invalid API token",
           403: "The token's role may not call this route", 404: "Not found",
           409: "A convention rule vetoed it (`rule`, `article`) or a conflicting state",
           422: "The insurer refused it (business error)", 429: "Too many requests with this token",
           500: "Internal error: `reference` points into the server log", 502: "The remote service failed",
           504: "The remote service did not answer in time"}


def _responses(spec: RouteSpec) -> dict[int, ResponseSpec]:
    codes = [400, 401, 403, 404, 409, 422, 429, 500, 502, 504]
    return {code: ResponseSpec(data_container=ErrorBody, description=_ERRORS[code], generate_examples=False)
            for code in codes}


def _answer(answer: Answer) -> Response[bytes]:
    return Response(content=answer.body, status_code=answer.status, media_type=JSON, headers=dict(answer.headers))


def _query_name(name: str) -> str:
    return "q_" + re.sub(r"\W", "_", name)


def web_route(gateway: Gateway, plugin: str, spec: RouteSpec) -> Any:
    """One Litestar route for ``spec``: its signature tells Litestar (and OpenAPI) the body, the path,
    query and header parameters and the response model; the call itself is :meth:`Gateway.call`."""
    names = re.findall(r"{(\w+)}", spec.path)
    params = [inspect.Parameter("request", _KW, annotation=Request)]
    if spec.request is not None:
        params.append(inspect.Parameter("data", _KW, annotation=JSONBody[spec.request]))  # type: ignore[valid-type]
    params += [inspect.Parameter(n, _KW, annotation=Annotated[str, PathParameter(max_length=200)]) for n in names]
    params += [inspect.Parameter(_query_name(q), _KW, default=None,
                                 annotation=Annotated[str | None, QueryParameter(name=q, max_length=200)])
               for q in spec.query]
    if spec.sends:
        params.append(inspect.Parameter("idempotency_key", _KW, annotation=Annotated[str, HeaderParameter(
            name="Idempotency-Key", min_length=1, max_length=200,
            description="A key per request: a retry with the same key returns the first answer, never sends twice")]))

    async def handler(**kwargs: Any) -> Any:
        request: Request[Any, Any, Any] = kwargs["request"]
        call = functools.partial(gateway.call, spec, authorization=request.headers.get("authorization"),
                                 body=kwargs.get("data"), params={n: kwargs[n] for n in names},
                                 query={q: kwargs[_query_name(q)] for q in spec.query},
                                 idempotency_key=kwargs.get("idempotency_key"))
        return _answer(await anyio.to_thread.run_sync(call))  # storage and exchanges block: a worker thread

    returns = Response[spec.response]  # type: ignore[name-defined]
    handler.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    slug = re.sub(r"\W+", "_", spec.path)
    handler.__name__ = handler.__qualname__ = f"{plugin}_{spec.method.lower()}{slug}".replace("-", "_")
    path = re.sub(r"{(\w+)}", r"{\1:str}", spec.path)
    return route(path, http_method=[spec.method], status_code=spec.status_code,
                 summary=spec.summary or None, tags=list(spec.tags) or [plugin], security=[{"bearer": []}],
                 responses=_responses(spec), operation_id=handler.__name__,
                 description=f"Roles: {', '.join(sorted(spec.roles))}." + (
                     " Sends: requires an Idempotency-Key." if spec.sends else ""))(handler)


def _error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(content=encode_json(body), status_code=status, media_type=JSON, headers=headers or {})


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own refusals (bad body, unknown path, too large) in the one error shape."""
    location = None
    text = str(exc.detail)
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0] if isinstance(exc.extra[0], dict) else {}
        location = first.get("key")
        text = f"{location}: {first.get('message', text)}" if location else str(first.get("message", text))
    code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR")
    if exc.status_code >= 500:
        status, body = internal(exc)
        return _error_response(status, body)
    body = ErrorBody(error="UsageError", code=code, message=Messages(en=text), exit_code=2, origin="gateway",
                     location=location)
    return _error_response(exc.status_code, body, dict(exc.headers or {}))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    status, body = internal(exc)
    return _error_response(status, body)


def _core_routes(gateway: Gateway) -> list[Any]:
    @get("/health", sync_to_thread=False, include_in_schema=True, tags=["health"], summary="Is the gateway up")
    def health() -> status_page.Health:
        return status_page.health(gateway)

    @get("/openapi.json", sync_to_thread=False, include_in_schema=False)
    def openapi(request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(content=encode_json(contract(request.app)), media_type=JSON)

    @get("/status", sync_to_thread=True, include_in_schema=False)
    def status(request: Request[Any, Any, Any]) -> Response[str]:
        token = status_page.session_token(gateway, request.headers.get("authorization"),
                                          request.cookies.get(status_page.COOKIE))
        if token is None:
            return Response(content=status_page.login_page(), status_code=401, media_type="text/html")
        return Response(content=status_page.render(gateway, token), media_type="text/html")

    @get("/status/login", sync_to_thread=True, include_in_schema=False)
    def login(code: Annotated[str, QueryParameter(max_length=100)]) -> Response[str]:
        session = status_page.open_session(gateway, code)
        if session is None:
            return Response(content=status_page.login_page(expired=True), status_code=401, media_type="text/html")
        response: Response[str] = Response(content="", status_code=303, headers={"Location": "/status"})
        response.set_cookie(status_page.COOKIE, session, path="/status", httponly=True, samesite="strict",
                            secure=gateway.settings.tls, max_age=status_page.SESSION_S)
        return response

    @post("/status/link", sync_to_thread=True, tags=["token"], security=[{"bearer": []}],
          summary="A one-time link (10 minutes) that opens the status page for this token, e.g. on a phone",
          responses={401: ResponseSpec(data_container=ErrorBody, description=_ERRORS[401], generate_examples=False)})
    def link(request: Request[Any, Any, Any]) -> Response[status_page.StatusLink]:
        try:
            token = gateway.authenticate(request.headers.get("authorization"), "POST /status/link")
        except Exception as exc:  # HttpProblem: 401 audited
            return _error_response(getattr(exc, "status", 500), getattr(exc, "body", internal(exc)[1]),
                                   getattr(exc, "headers", None))
        return Response(content=encode_json(status_page.link_for(gateway, token)), status_code=201, media_type=JSON)

    return [health, openapi, status, login, link]


def _fixed_tuples(node: Any) -> Any:
    """A fixed-length tuple as an array of ``n`` items of the union of their schemas.

    Litestar writes it as ``prefixItems``, which contract tools still read in the pre-2020 form
    (``items: [..]``) and then refuse; the plain form is valid for every JSON Schema draft.
    """
    if isinstance(node, list):
        return [_fixed_tuples(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _fixed_tuples(value) for key, value in node.items()}
    for key in ("prefixItems", "items"):
        if isinstance(out.get(key), list):
            parts = out.pop(key)
            unique = [p for i, p in enumerate(parts) if p not in parts[:i]]
            out["items"] = unique[0] if len(unique) == 1 else {"anyOf": unique}
            out["minItems"] = out["maxItems"] = len(parts)
    return out


def contract(app: Litestar) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app`` (served at ``/openapi.json``, written by ``gateway openapi``)."""
    return _fixed_tuples(app.openapi_schema.to_schema())  # type: ignore[no-any-return]


def build_app(ctx: Context, settings: GatewaySettings | None = None, *, gateway: Gateway | None = None) -> Litestar:
    """The ASGI app over ``ctx``: the kernel's routes, every loaded plugin's, the status page."""
    settings = settings or GatewaySettings()
    gateway = gateway or Gateway(ctx, settings, encode=encode_json)
    handlers = _core_routes(gateway) + [web_route(gateway, plugin, spec) for plugin, spec in gateway.routes]
    from importlib.metadata import version

    config = OpenAPIConfig(
        title="mycarenet-dental gateway", version=version("mycarenet-dental"), path="/docs",
        description="Every MyCareNet service of mycarenet-dental as JSON over HTTP, with the convention rules "
                    "enforced and audited. Send `Authorization: Bearer <token>` (gateway token add).",
        render_plugins=[SwaggerRenderPlugin(path="/")],
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}))
    cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_headers=["Authorization", "Content-Type",
                      "Idempotency-Key"]) if settings.cors_origins else None
    app = Litestar(route_handlers=handlers, openapi_config=config, cors_config=cors, debug=False,
                   request_max_body_size=settings.max_body_bytes,
                   exception_handlers={HTTPException: _http_exception, Exception: _internal},
                   middleware=[SecurityHeaders.factory(tls=settings.tls)], logging_config=None)
    app.state["gateway"] = gateway
    return app

