"""The HTTP layer: the ASGI app, the request flow, admin endpoints, dashboard, SSE writer and reload."""
