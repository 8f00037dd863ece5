"""The daemon's inbound HTTP port: where gateways post receipts and replies (each gateway
kind brings its routes: Gateway.callbacks; each post is authenticated first: auth.py), and
GET /healthz. A route takes POST, or GET only when its kind declared it so (CalledWithGet:
Kannel calls back with GET); no route takes both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dispatch.gateways.base import CalledWithGet, Gateway, Inbound
from dispatch.httpserver import Handler, Request, Response, error_response, json_response


def gateway_routes(gateways: Iterable[Gateway], inbound: Inbound) -> dict[str, Handler]:
    """Every gateway's callback routes; gateways of one kind share theirs (the first
    gateway's handler serves them all)."""
    routes: dict[str, Handler] = {}
    for gateway in gateways:
        for path, handler in gateway.callbacks(inbound).items():
            routes.setdefault(path, handler)
    return routes


def gateway_paths(gateways: Iterable[Gateway], inbound: Inbound) -> dict[str, frozenset[str]]:
    """The paths each gateway posts to (none: SMPP), for the check of who posted."""
    return {gateway.name: frozenset(gateway.callbacks(inbound)) for gateway in gateways}


def gateway_get_paths(gateways: Iterable[Gateway], inbound: Inbound) -> frozenset[str]:
    """The paths gateways call with GET (CalledWithGet); every other path takes POST."""
    return frozenset(path for gateway in gateways
                     for path, handler in gateway.callbacks(inbound).items()
                     if isinstance(handler, CalledWithGet))


def inbound_handler(routes: Mapping[str, Handler], healthz: Handler | None = None,
                    get_paths: frozenset[str] = frozenset()) -> Handler:
    """The port's handler: /healthz (`healthz`: the daemon's, else always ok), then a
    request to one of `routes`: a GET to those of `get_paths`, a POST to the others."""
    async def handle(request: Request) -> Response:
        if request.path == "/healthz":
            return json_response({"ok": True}) if healthz is None else await healthz(request)
        handler = routes.get(request.path)
        if handler is None:
            return error_response(404, _not_found(routes, get_paths))
        method = _method(request.path, get_paths)
        if request.method != method:
            return error_response(405, f"use {method}")
        return await handler(request)
    return handle


def _method(path: str, get_paths: frozenset[str]) -> str:
    return "GET" if path in get_paths else "POST"


def _not_found(routes: Mapping[str, Handler], get_paths: frozenset[str]) -> str:
    if not routes:
        return "not found; no gateway posts here"
    return "not found; use " + " or ".join(f"{_method(path, get_paths)} {path}"
                                          for path in routes)
