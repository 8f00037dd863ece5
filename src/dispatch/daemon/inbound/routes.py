"""The daemon's inbound HTTP port: where gateways post receipts and replies (each gateway
kind brings its routes: Gateway.callbacks; each post is authenticated first: auth.py), and
GET /healthz."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dispatch.gateways.base import Gateway, Inbound
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


def inbound_handler(routes: Mapping[str, Handler], healthz: Handler | None = None
                    ) -> Handler:
    """The port's handler: /healthz (`healthz`: the daemon's, else always ok), then a
    POST to one of `routes`."""
    async def handle(request: Request) -> Response:
        if request.path == "/healthz":
            return json_response({"ok": True}) if healthz is None else await healthz(request)
        handler = routes.get(request.path)
        if handler is None:
            return error_response(404, _not_found(routes))
        if request.method != "POST":
            return error_response(405, "use POST")
        return await handler(request)
    return handle


def _not_found(routes: Mapping[str, Handler]) -> str:
    if not routes:
        return "not found; no gateway posts here"
    return "not found; use " + " or ".join(f"POST {path}" for path in routes)
