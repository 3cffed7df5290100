"""/metrics for Prometheus: django-prometheus's request and database metrics plus the
desk's own, read from the database and Redis at scrape time (docs/reporting.md):

- supportdesk_open_tickets{tier,severity}       unresolved tickets now (gauge)
- supportdesk_sla_clocks_at_risk                 running clocks due within the "breaching
                                                 soon" horizon or overdue (gauge)
- supportdesk_sla_breaches_total                 clocks ever breached (counter)
- supportdesk_pages_open{state}                  triggered / acknowledged pages (gauge)
- supportdesk_celery_queue_length{queue}         messages waiting per Celery queue (gauge)
- supportdesk_celery_task_failures_total{task}   task failures (counter, kept in Redis by
  supportdesk_celery_task_retries_total{task}    the workers' Celery signal handlers)
- supportdesk_outbox_deliveries{state}           outbox deliveries pending or failed (gauge)

Behind a bearer token (METRICS_TOKEN) or a client-address allow-list (METRICS_ALLOWED_IPS);
anyone else gets 404, as if there were nothing there.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import prometheus_client
from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

FAILURES_KEY = "supportdesk:celery:task_failures"
RETRIES_KEY = "supportdesk:celery:task_retries"


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=2
    )


class DeskCollector(Collector):
    def collect(self) -> Iterator[Any]:
        yield from self._database()
        yield from self._redis()

    def _database(self) -> Iterator[Any]:
        from core.models import EventDelivery
        from incidents.paging.models import Page
        from slas.models import ClockState, SLATarget
        from tickets.models import UNRESOLVED, Ticket

        tickets = GaugeMetricFamily(
            "supportdesk_open_tickets", "Unresolved tickets now.", labels=["tier", "severity"]
        )
        for row in (
            Ticket.objects.filter(UNRESOLVED).values("tier", "severity").annotate(n=Count("pk"))
        ):
            tickets.add_metric([row["tier"], row["severity"]], row["n"])
        yield tickets
        horizon = timezone.now() + timedelta(minutes=settings.SLA_BREACHING_SOON_MINUTES)
        at_risk = SLATarget.objects.filter(state=ClockState.RUNNING, due_at__lte=horizon).count()
        yield GaugeMetricFamily(
            "supportdesk_sla_clocks_at_risk",
            "Running SLA clocks due soon or overdue.",
            value=at_risk,
        )
        breaches = SLATarget.objects.filter(breached_at__isnull=False).count()
        yield CounterMetricFamily(
            "supportdesk_sla_breaches", "SLA clocks breached, ever.", value=breaches
        )
        pages = GaugeMetricFamily("supportdesk_pages_open", "Open pages.", labels=["state"])
        counts = dict(
            Page.objects.exclude(state="resolved")
            .values("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
        for state in ("triggered", "acknowledged"):
            pages.add_metric([state], counts.get(state, 0))
        yield pages
        deliveries = GaugeMetricFamily(
            "supportdesk_outbox_deliveries", "Outbox deliveries not done.", labels=["state"]
        )
        counts = dict(
            EventDelivery.objects.exclude(state="done")
            .values("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
        for state in ("pending", "failed"):
            deliveries.add_metric([state], counts.get(state, 0))
        yield deliveries

    def _redis(self) -> Iterator[Any]:
        up = GaugeMetricFamily("supportdesk_redis_up", "Redis answered this scrape.")
        try:
            client = _redis()
            lengths = {queue: client.llen(queue) for queue in settings.WORKER_QUEUES}
            failures = client.hgetall(FAILURES_KEY)
            retries = client.hgetall(RETRIES_KEY)
        except Exception:  # noqa: BLE001 - a scrape must answer whatever Redis does
            logger.warning("Redis did not answer the metrics scrape", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        queue = GaugeMetricFamily(
            "supportdesk_celery_queue_length",
            "Messages waiting per Celery queue.",
            labels=["queue"],
        )
        for name, length in sorted(lengths.items()):
            queue.add_metric([name], length)
        yield queue
        for name, doc, values in (
            ("supportdesk_celery_task_failures", "Celery task failures.", failures),
            ("supportdesk_celery_task_retries", "Celery task retries.", retries),
        ):
            family = CounterMetricFamily(name, doc, labels=["task"])
            for task, count in sorted(values.items()):
                family.add_metric([task.decode()], int(count))
            yield family


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        prometheus_client.REGISTRY.register(DeskCollector())
        _registered = True


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        raise Http404("No such page.")
    register()
    from django_prometheus.exports import ExportToDjangoView

    response: HttpResponse = ExportToDjangoView(request)
    return response


# ---------------------------------------------------------------- worker side


def count_task_failure(sender: Any = None, **kwargs: Any) -> None:
    _count(FAILURES_KEY, sender)


def count_task_retry(sender: Any = None, **kwargs: Any) -> None:
    _count(RETRIES_KEY, sender)


def _count(key: str, sender: Any) -> None:
    name = getattr(sender, "name", None) or str(sender)
    try:
        _redis().hincrby(key, name, 1)
    except Exception:  # noqa: BLE001 - counting must never fail a task
        logger.warning("Could not count a task event in Redis", exc_info=True)
