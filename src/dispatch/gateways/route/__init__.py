"""A route: a gateway made of other gateways, with failover between them (gateway.py)."""

from dispatch.gateways.route.gateway import RouteGateway, build

__all__ = ["RouteGateway", "build"]
