"""The transactional outbox: events are rows, reactions are deliveries, Redis only carries ids.

`publish()` is called inside the transaction that makes a change. It writes the event and
one delivery per reaction listed in `settings.EVENT_REACTIONS`; after commit the
deliveries are handed to Celery, one message per queue carrying the ids of that queue's
deliveries (publishing a message costs the web process about half a millisecond, and each
message costs a worker a task). If the broker is down at that moment, nothing is lost:
`relay()` (Celery beat, every few seconds) sends every delivery that was never enqueued,
or whose message vanished. `delivery_run()` runs a handler and marks its delivery done in
one transaction, under a row lock, so a delivery sent twice still runs once.

A reaction may name a `batch` handler too: then a worker that picks up one of its
deliveries also takes the other deliveries of that handler that are waiting (up to
`batch_size`, those no other worker holds) and hands all their events to the batch handler
in one transaction. A backlog then drains in batches, each paying once for what the
single runs would each pay again (the transaction, the configuration they read, the
rows they count); the messages of the deliveries taken along find them done (in the
process that ran the batch without even a look at the database).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core.models import Event, EventDelivery

logger = logging.getLogger(__name__)

# A delivery committed but not yet enqueued is left to the after-commit hook this long
# before the relay takes it over.
_RELAY_GRACE = timedelta(seconds=5)
_RELAY_BATCH = 500


class _DoneHere:
    """The deliveries this process ran in a batch, once their transaction committed: each
    still has its message on the way, which then needs no transaction to find it done.
    Bounded (the oldest are forgotten, and then found done in the database)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: dict[int, None] = {}
        self._lock = threading.Lock()

    def add(self, ids: Iterable[int]) -> None:
        with self._lock:
            for delivery_id in ids:
                self._ids[delivery_id] = None
            for oldest in list(islice(self._ids, max(len(self._ids) - self.size, 0))):
                del self._ids[oldest]

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids


_done_here = _DoneHere()


@dataclass(frozen=True)
class Reaction:
    """`handler` (a dotted path to `def handler(*, event: Event) -> None`) runs on `queue`
    each time an event called `event` is published; with `when` (a dotted path to
    `def when(payload: dict) -> bool`), only for the events whose payload it accepts, so an
    event the handler would ignore costs no delivery, message or task."""

    event: str
    handler: str
    queue: str = "default"
    when: str = ""
    # `def batch(*, events: list[Event]) -> None`, doing what `handler` does for each event.
    batch: str = ""
    batch_size: int = 25

    def wants(self, payload: dict[str, Any]) -> bool:
        if not self.when:
            return True
        accepts: Callable[[dict[str, Any]], bool] = import_string(self.when)
        return accepts(payload)


@cache
def _reactions_by_event() -> dict[str, tuple[Reaction, ...]]:
    table: Iterable[Reaction] = import_string(settings.EVENT_REACTIONS)
    by_event: dict[str, list[Reaction]] = {}
    for reaction in table:
        by_event.setdefault(reaction.event, []).append(reaction)
    return {name: tuple(reactions) for name, reactions in by_event.items()}


def reactions_to(name: str) -> tuple[Reaction, ...]:
    return _reactions_by_event().get(name, ())


@cache
def _batches() -> dict[str, tuple[str, int]]:
    """{handler: (its batch handler, batch size)}, from the reactions that name one."""
    table: Iterable[Reaction] = import_string(settings.EVENT_REACTIONS)
    batches: dict[str, tuple[str, int]] = {}
    for r in table:
        if r.batch and batches.setdefault(r.handler, (r.batch, r.batch_size)) != (
            r.batch,
            r.batch_size,
        ):
            raise ImproperlyConfigured(f"{r.handler} is given two different batch handlers.")
    return batches


def publish(name: str, *, community_id: int | None = None, **payload: Any) -> Event | None:
    """Record an event and its deliveries in the current transaction.

    Returns None when nothing reacts to the event (or to this payload): there is nothing
    to remember.
    """
    reactions = [r for r in reactions_to(name) if r.wants(payload)]
    if not reactions:
        return None
    event = Event.objects.create(name=name, payload=payload, community_id=community_id)
    deliveries = EventDelivery.objects.bulk_create(
        EventDelivery(event=event, handler=r.handler, queue=r.queue) for r in reactions
    )
    pending = [(delivery.pk, delivery.queue) for delivery in deliveries]
    transaction.on_commit(lambda: enqueue(pending), robust=True)
    return event


def enqueue(deliveries: list[tuple[int, str]]) -> int:
    """Hand (delivery id, queue) pairs to the broker, one message per queue (queues in the
    order they first appear, each message with up to OUTBOX_DELIVERIES_PER_MESSAGE ids);
    return how many deliveries were sent. Never raises for a broker that is down: the
    relay sends them later."""
    from core.tasks import outbox_deliver as outbox_deliver_task

    by_queue: dict[str, list[int]] = {}
    for delivery_id, queue in deliveries:
        by_queue.setdefault(queue, []).append(delivery_id)
    size = max(settings.OUTBOX_DELIVERIES_PER_MESSAGE, 1)
    sent: list[int] = []
    try:
        for queue, ids in by_queue.items():
            for start in range(0, len(ids), size):
                chunk = ids[start : start + size]
                outbox_deliver_task.apply_async(kwargs={"delivery_ids": chunk}, queue=queue)
                sent.extend(chunk)
    except Exception as exc:  # noqa: BLE001 - kombu, redis-py and socket errors alike mean "broker down"
        logger.warning(
            "Broker unavailable, %d event deliveries left for the relay: %s",
            len(deliveries) - len(sent),
            exc,
        )
    if sent:
        EventDelivery.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())
    return len(sent)


def relay(*, batch: int = _RELAY_BATCH) -> int:
    """Send deliveries that are due and not on their way: never enqueued (the broker was
    down), retrying after a failure, or enqueued so long ago that the message was lost."""
    now = timezone.now()
    due = (
        EventDelivery.objects.filter(state=EventDelivery.State.PENDING)
        .filter(
            Q(enqueued_at__isnull=True, next_attempt_at__lte=now - _RELAY_GRACE)
            | Q(enqueued_at__lte=now - timedelta(seconds=settings.OUTBOX_REDELIVER_AFTER_SECONDS))
        )
        .order_by("next_attempt_at")
        .values_list("pk", "queue")[:batch]
    )
    return enqueue(list(due))


def deliveries_run(*, delivery_ids: Iterable[int]) -> int:
    """Run the deliveries of one message, each in its own transaction (see delivery_run);
    return how many this call did. A delivery that fails is recorded and retried on its
    own; the others run all the same."""
    return sum(delivery_run(delivery_id=delivery_id) for delivery_id in delivery_ids)


def delivery_run(*, delivery_id: int) -> bool:
    """Run one delivery's handler; True when this call did it.

    The row lock (SKIP LOCKED) keeps two workers from running the same delivery, and the
    state check makes a repeated message a no-op. The handler's writes and the "done" mark
    commit together. If the handler fails, the whole transaction rolls back (no savepoint
    around the handler: a delivery is one transaction) and the failure is counted in a new
    one, to be retried with backoff until OUTBOX_MAX_ATTEMPTS.

    When the handler has a batch handler, waiting deliveries of the same handler are run
    with this one (see the module's docstring). Should the batch fail, this delivery runs
    alone, as above, and the others are left to their own messages.
    """
    if delivery_id in _done_here:
        return False
    batched = _batches()
    try:
        with transaction.atomic():
            delivery = (
                EventDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("event")
                .filter(pk=delivery_id, state=EventDelivery.State.PENDING)
                .first()
            )
            if delivery is None:
                return False
            if delivery.handler in batched and _run_batch(delivery, *batched[delivery.handler]):
                return True
            handler: Callable[..., None] = import_string(delivery.handler)
            handler(event=delivery.event)
            delivery.state = EventDelivery.State.DONE
            delivery.attempts += 1
            delivery.done_at = timezone.now()
            delivery.save(update_fields=["state", "attempts", "done_at"])
    except Exception as exc:  # noqa: BLE001 - any handler failure is recorded and retried
        _record_failure(delivery_id, exc)
        return False
    return True


def _run_batch(delivery: EventDelivery, batch: str, size: int) -> bool:
    """Run `delivery` (locked) with the waiting deliveries of its handler through `batch`,
    in a savepoint; True when it did. False when the batch failed (rolled back), or when
    nothing was waiting, so that the caller runs the delivery alone."""
    handler: Callable[..., None] = import_string(batch)
    waiting = (
        EventDelivery.objects.filter(
            handler=delivery.handler,
            state=EventDelivery.State.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .exclude(pk=delivery.pk)
        .order_by("pk")
    )
    # Most deliveries of a desk that keeps up find nothing waiting: a look without locks
    # spares them the savepoint.
    if size < 2 or not waiting.exists():
        return False
    try:
        # In the savepoint, so that a failed batch also lets go of the rows it took along.
        with transaction.atomic():
            others = list(
                waiting.select_for_update(skip_locked=True, of=("self",)).select_related("event")[
                    : size - 1
                ]
            )
            if not others:
                return False
            deliveries = [delivery, *others]
            handler(events=[d.event for d in deliveries])
            EventDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
                state=EventDelivery.State.DONE,
                attempts=F("attempts") + 1,
                done_at=timezone.now(),
            )
            taken_along = [d.pk for d in others]
            transaction.on_commit(lambda: _done_here.add(taken_along))
    except Exception:  # noqa: BLE001 - the delivery runs alone next, and fails on its own
        logger.warning(
            "A batch of deliveries of %s failed; running delivery %s alone",
            delivery.handler, delivery.pk, exc_info=True,
        )  # fmt: skip
        return False
    return True


def _record_failure(delivery_id: int, exc: Exception) -> None:
    with transaction.atomic():
        delivery = (
            EventDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, state=EventDelivery.State.PENDING)
            .first()
        )
        if delivery is None:  # another worker has it now, or it is done
            logger.warning("Event delivery %s failed: %s", delivery_id, exc, exc_info=exc)
            return
        delivery.attempts += 1
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if delivery.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            delivery.state = EventDelivery.State.FAILED
            logger.error(
                "Event delivery %s (%s) failed for good after %d attempts",
                delivery.pk, delivery.handler, delivery.attempts, exc_info=exc,
            )  # fmt: skip
        else:
            backoff = timedelta(seconds=min(2**delivery.attempts * 5, 3600))
            delivery.next_attempt_at = timezone.now() + backoff
            logger.warning(
                "Event delivery %s (%s) failed, attempt %d, retrying in %s",
                delivery.pk, delivery.handler, delivery.attempts, backoff, exc_info=exc,
            )  # fmt: skip
        delivery.enqueued_at = None
        delivery.save(
            update_fields=["attempts", "last_error", "state", "next_attempt_at", "enqueued_at"]
        )


def delivery_retry(*, delivery_id: int) -> bool:
    """Give a failed delivery another round of attempts (admin action)."""
    failed = EventDelivery.objects.filter(pk=delivery_id, state=EventDelivery.State.FAILED)
    queue = failed.values_list("queue", flat=True).first()
    changed = failed.update(
        state=EventDelivery.State.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        enqueued_at=None,
    )
    if changed and queue is not None:
        transaction.on_commit(lambda: enqueue([(delivery_id, queue)]), robust=True)
    return bool(changed)
