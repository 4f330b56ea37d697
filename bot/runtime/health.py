"""Operations endpoints next to `/healthz`: `/readyz` and `/metrics`.

- `/healthz` (in app.py) is liveness: the process answers and its database does.
- `/readyz` is readiness: the database answers at the schema version this Mend
  expects and takes writes (not read-only, disk not full), in Socket Mode the socket
  to Slack is connected, and the process is not shutting down. On shutdown
  readiness fails first (a load balancer stops sending), then in-flight work drains.
- `/metrics` is Prometheus' text format (see metrics.py), unless `MEND_METRICS=0`.

`mend` is any object with `deps` (store, clock), `metrics`, `stopping`, `socket`
and `expected_schema`: this module does not import the app.
"""

from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger("mend.health")
LEASE = "nudger"  # the scheduler's lease (handlers/nudges.py)


async def socket_connected(handler) -> bool:
    """Whether a Socket Mode handler's connection to Slack is up."""
    client = getattr(handler, "client", None)
    if client is None:
        return False
    try:
        return bool(await client.is_connected())
    except Exception:  # noqa: BLE001 - a socket that can't say is not connected
        return False


def storage_state(store) -> tuple[bool, str | None]:
    """(whether the database file was deleted or replaced, why writes fail or None); an
    engine without a file of its own reports neither."""
    replaced = getattr(store, "replaced", None)
    return bool(replaced and replaced()), getattr(store, "write_problem", None)


async def readiness(mend) -> dict:
    """What `/readyz` reports; `ready` is the verdict."""
    store = mend.deps.store
    reachable = await store.ping()
    schema = store.schema_version if reachable else None
    replaced, problem = storage_state(store)
    checks = {
        "database": "replaced" if replaced else "reachable" if reachable else "unreachable",
        "storage": problem or "writable",  # 'read-only', 'disk full'
        "schema": schema,
        "expected_schema": mend.expected_schema,
        "stopping": bool(mend.stopping),
    }
    ready = (reachable and not replaced and problem is None
             and schema == mend.expected_schema and not mend.stopping)
    if mend.settings.socket_mode:
        connected = mend.socket is not None and await socket_connected(mend.socket)
        checks["socket"] = "connected" if connected else "disconnected"
        ready = ready and connected
    return {"ready": ready, **checks}


def add_routes(app: web.Application, mend) -> None:
    """`/readyz`, and `/metrics` when metrics are on."""

    async def readyz(request: web.Request) -> web.Response:
        body = await readiness(mend)
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def metrics(request: web.Request) -> web.Response:
        try:
            await mend.metrics.read_database(mend.deps.store, mend.deps.clock.now(), LEASE)
        except Exception as exc:  # noqa: BLE001 - the counters are still worth scraping
            log.warning("metrics could not read the database: %s", type(exc).__name__)
        body, content_type = mend.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/readyz", readyz)
    if mend.settings.metrics:
        app.router.add_get("/metrics", metrics)


def ops_app(mend) -> web.Application:
    """Only the operations endpoints (Socket Mode serves these on PORT)."""
    app = web.Application()
    app.router.add_get("/healthz", mend.healthz)
    add_routes(app, mend)
    return app
