"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from supportdesk.celery import live_workers


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _check_redis() -> str | None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    return None


def _check_worker() -> str | None:
    return None if live_workers() else "no Celery worker has sent a heartbeat in the last 30 s"


CHECKS = {"database": _check_database, "redis": _check_redis, "worker": _check_worker}


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to do the whole job: the database, Redis and at least one Celery worker answer."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            problem = check()
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
            problem = f"{type(exc).__name__}: {exc}"
        results[name] = {
            "ok": problem is None,
            "ms": round((time.monotonic() - started) * 1000, 1),
            **({"error": problem} if problem else {}),
        }
    ready = all(result["ok"] for result in results.values())
    # Informational, never a reason to be unready: without the optional model the
    # knowledge base searches on full text alone, and says so here.
    from knowledgebase.search.embeddings import status as search_status

    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results,
         "knowledge_base_search": search_status()},
        status=200 if ready else 503,
    )  # fmt: skip
