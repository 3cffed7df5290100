import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core import outbox
from core.models import Event, EventDelivery, User
from tests.core import handlers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def test_reactions(settings):
    settings.EVENT_REACTIONS = "tests.core.handlers.REACTIONS"
    settings.OUTBOX_MAX_ATTEMPTS = 3
    outbox._reactions_by_event.cache_clear()
    outbox._batches.cache_clear()
    handlers.calls.clear()
    handlers.batches.clear()
    yield
    outbox._reactions_by_event.cache_clear()
    outbox._batches.cache_clear()


def test_an_event_nobody_reacts_to_leaves_no_row():
    assert outbox.publish("nobody.cares", community_id=1, x=1) is None
    assert not Event.objects.exists()


def test_publishing_writes_the_event_and_one_delivery_per_reaction(
    django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=True):
        event = outbox.publish("thing.happened", community_id=7, ticket_id=3)

    assert event is not None
    assert (event.name, event.payload, event.community_id) == (
        "thing.happened",
        {"ticket_id": 3},
        7,
    )
    delivery = EventDelivery.objects.get()
    assert (delivery.handler, delivery.queue, delivery.state) == (
        "tests.core.handlers.record",
        "slas",
        "pending",
    )
    assert enqueued == [{"kwargs": {"delivery_ids": [delivery.pk]}, "queue": "slas"}]
    assert delivery.enqueued_at is not None


SPREAD = (
    outbox.Reaction("thing.spread", f"{handlers.__name__}.record", "slas"),
    outbox.Reaction("thing.spread", f"{handlers.__name__}.measure", "routing"),
    outbox.Reaction("thing.spread", f"{handlers.__name__}.fail", "slas"),
)


def test_the_deliveries_of_an_event_go_to_the_broker_in_one_message_per_queue(
    django_capture_on_commit_callbacks, enqueued, settings
):
    settings.EVENT_REACTIONS = "tests.core.test_outbox.SPREAD"
    outbox._reactions_by_event.cache_clear()

    with django_capture_on_commit_callbacks(execute=True):
        event = outbox.publish("thing.spread")

    assert event is not None
    ids = dict(event.deliveries.values_list("handler", "pk"))
    assert enqueued == [
        {
            "kwargs": {"delivery_ids": [ids[f"{handlers.__name__}.record"],
                                        ids[f"{handlers.__name__}.fail"]]},
            "queue": "slas",
        },
        {"kwargs": {"delivery_ids": [ids[f"{handlers.__name__}.measure"]]}, "queue": "routing"},
    ]  # fmt: skip
    assert not EventDelivery.objects.filter(enqueued_at=None).exists()


def test_a_burst_is_cut_into_messages_of_at_most_the_configured_size(enqueued, settings):
    settings.OUTBOX_DELIVERIES_PER_MESSAGE = 2
    events = [outbox.publish("thing.grew", size=n) for n in (1, 20, 2, 3)]
    pairs = list(
        EventDelivery.objects.filter(event__in=events).order_by("pk").values_list("pk", "queue")
    )
    slas = [pk for pk, queue in pairs if queue == "slas"]
    routing = [pk for pk, queue in pairs if queue == "routing"]

    assert outbox.enqueue(pairs) == 5

    assert enqueued == [
        {"kwargs": {"delivery_ids": slas[:2]}, "queue": "slas"},
        {"kwargs": {"delivery_ids": slas[2:]}, "queue": "slas"},
        {"kwargs": {"delivery_ids": routing}, "queue": "routing"},
    ]


def test_a_message_runs_each_of_its_deliveries_even_when_one_fails():
    from core.tasks import outbox_deliver

    broke, happened = outbox.publish("thing.broke"), outbox.publish("thing.happened")
    assert broke is not None
    assert happened is not None
    ids = [EventDelivery.objects.get(event=e).pk for e in (broke, happened)]

    outbox_deliver(delivery_ids=ids)

    assert handlers.calls == [happened.pk]
    states = dict(EventDelivery.objects.values_list("event_id", "state"))
    assert states == {broke.pk: "pending", happened.pk: "done"}
    assert EventDelivery.objects.get(event=broke).attempts == 1


def test_a_message_of_one_delivery_as_sent_before_still_runs():
    from core.tasks import outbox_deliver

    event = outbox.publish("thing.happened")
    assert event is not None

    outbox_deliver(delivery_id=EventDelivery.objects.get().pk)

    assert handlers.calls == [event.pk]


@pytest.mark.parametrize(("size", "queues"), [(3, ["slas"]), (11, ["slas", "routing"])])
def test_a_reaction_with_a_condition_gets_a_delivery_only_for_the_payloads_it_accepts(size, queues):
    event = outbox.publish("thing.grew", community_id=7, size=size)

    assert event is not None
    assert list(event.deliveries.order_by("pk").values_list("queue", flat=True)) == queues


def test_an_event_whose_only_reaction_declines_it_leaves_no_row(settings):
    settings.EVENT_REACTIONS = "tests.core.test_outbox.CONDITIONAL_ONLY"
    outbox._reactions_by_event.cache_clear()

    assert outbox.publish("thing.grew", community_id=7, size=1) is None
    assert not Event.objects.exists()
    assert outbox.publish("thing.grew", community_id=7, size=12) is not None


CONDITIONAL_ONLY = tuple(r for r in handlers.REACTIONS if r.when)


def test_nothing_is_published_when_the_transaction_rolls_back(
    django_capture_on_commit_callbacks, enqueued
):
    def publish_then_fail():
        with transaction.atomic():
            outbox.publish("thing.happened")
            raise ZeroDivisionError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError):
        publish_then_fail()

    assert not Event.objects.exists()
    assert enqueued == []


def test_a_delivery_runs_its_handler_once_however_often_it_is_sent():
    event = outbox.publish("thing.happened")
    assert event is not None
    delivery = EventDelivery.objects.get()

    assert outbox.delivery_run(delivery_id=delivery.pk) is True
    assert outbox.delivery_run(delivery_id=delivery.pk) is False

    assert handlers.calls == [event.pk]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("done", 1)
    assert delivery.done_at is not None


def test_a_failing_handler_changes_nothing_and_is_retried_with_backoff():
    outbox.publish("thing.broke")
    delivery = EventDelivery.objects.get()
    now = timezone.now()

    with time_machine.travel(now, tick=False):
        assert outbox.delivery_run(delivery_id=delivery.pk) is False

    delivery.refresh_from_db()
    assert not User.objects.filter(email__startswith="half-done").exists()
    assert (delivery.state, delivery.attempts, delivery.enqueued_at) == ("pending", 1, None)
    assert delivery.last_error == "RuntimeError: the mail server said no"
    assert delivery.next_attempt_at == now + timedelta(seconds=10)


def test_a_handler_that_keeps_failing_is_parked_as_failed_and_can_be_retried(
    django_capture_on_commit_callbacks, enqueued
):
    outbox.publish("thing.broke")
    delivery = EventDelivery.objects.get()

    for _ in range(3):
        outbox.delivery_run(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert outbox.delivery_run(delivery_id=delivery.pk) is False

    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.delivery_retry(delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert enqueued == [{"kwargs": {"delivery_ids": [delivery.pk]}, "queue": "default"}]


def test_the_relay_sends_what_was_never_enqueued_or_was_lost(enqueued, settings):
    settings.OUTBOX_REDELIVER_AFTER_SECONDS = 300
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=10), tick=False):
        outbox.publish("thing.happened")  # never enqueued: the broker was down
        lost = outbox.publish("thing.happened")  # enqueued, but the message vanished
        done = outbox.publish("thing.happened")
    EventDelivery.objects.filter(event=lost).update(enqueued_at=now - timedelta(minutes=6))
    EventDelivery.objects.filter(event=done).update(state="done")
    with time_machine.travel(now - timedelta(seconds=2), tick=False):
        fresh = outbox.publish("thing.happened")  # its after-commit hook may still send it
    on_its_way = outbox.publish("thing.happened")
    EventDelivery.objects.filter(event=on_its_way).update(enqueued_at=now - timedelta(minutes=1))

    with time_machine.travel(now, tick=False):
        sent = outbox.relay()

    assert sent == 2
    relayed = {pk for call in enqueued for pk in call["kwargs"]["delivery_ids"]}
    expected = set(
        EventDelivery.objects.exclude(event__in=[done, fresh, on_its_way]).values_list(
            "pk", flat=True
        )
    )
    assert relayed == expected
    assert EventDelivery.objects.filter(pk__in=relayed, enqueued_at=now).count() == 2


def test_a_broker_that_is_down_leaves_deliveries_for_the_relay(enqueued):
    outbox.publish("thing.happened")
    delivery = EventDelivery.objects.get()
    enqueued.error = BrokerError("Error 111 connecting to redis. Connection refused.")

    assert outbox.enqueue([(delivery.pk, delivery.queue)]) == 0

    delivery.refresh_from_db()
    assert delivery.enqueued_at is None


@pytest.mark.django_db(transaction=True)
def test_a_delivery_locked_by_one_worker_is_skipped_by_another():
    outbox.publish("thing.happened")
    delivery = EventDelivery.objects.get()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with transaction.atomic():
            EventDelivery.objects.select_for_update().get(pk=delivery.pk)
            locked.set()
            release.wait(timeout=10)
        connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        assert outbox.delivery_run(delivery_id=delivery.pk) is False
    finally:
        release.set()
        holder.join()

    assert handlers.calls == []
    assert outbox.delivery_run(delivery_id=delivery.pk) is True


def test_deliveries_are_found_by_event_through_the_index_of_their_unique_constraint():
    """EventDelivery.event has no index of its own: `delivery_once_per_handler` (event
    first) serves lookups by event and the cascade from a deleted event."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = EventDelivery.objects.filter(event_id=1).explain()
    assert "delivery_once_per_handler" in plan, plan
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, EventDelivery._meta.db_table)
    assert [n for n, c in constraints.items() if c["index"] and c["columns"] == ["event_id"]] == []


def test_a_worker_runs_the_waiting_deliveries_of_a_batched_handler_together_oldest_first():
    events = [outbox.publish("thing.queued", n=n) for n in range(5)]
    ids = [e.pk for e in events if e is not None]
    third = EventDelivery.objects.get(event_id=ids[2])

    assert outbox.delivery_run(delivery_id=third.pk) is True

    # The delivery picked up, then the oldest waiting ones, up to the batch size of 3.
    assert handlers.batches == [[ids[2], ids[0], ids[1]]]
    assert handlers.calls == []
    done = EventDelivery.objects.filter(state="done")
    assert sorted(done.values_list("event_id", flat=True)) == ids[:3]
    assert set(done.values_list("attempts", flat=True)) == {1}
    # A message of a delivery taken along finds it done.
    first = EventDelivery.objects.get(event_id=ids[0])
    assert outbox.delivery_run(delivery_id=first.pk) is False
    assert User.objects.filter(email__startswith="handled-").count() == 3


def test_the_messages_of_deliveries_a_committed_batch_took_along_cost_no_query(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    events = [outbox.publish("thing.queued", n=n) for n in range(3)]
    first, second, third = (EventDelivery.objects.get(event=e) for e in events)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.delivery_run(delivery_id=third.pk) is True

    with django_assert_num_queries(0):
        assert outbox.delivery_run(delivery_id=first.pk) is False
        assert outbox.delivery_run(delivery_id=second.pk) is False
    # The delivery this worker picked up had its own message, now consumed: not remembered.
    assert third.pk not in outbox._done_here


def test_a_batched_handler_with_nothing_else_waiting_runs_its_single_handler():
    event = outbox.publish("thing.queued", n=1)
    assert event is not None

    assert outbox.delivery_run(delivery_id=EventDelivery.objects.get().pk) is True

    assert (handlers.batches, handlers.calls) == ([], [event.pk])


def test_a_delivery_waiting_for_its_retry_is_not_taken_into_a_batch():
    first, second = outbox.publish("thing.queued", n=1), outbox.publish("thing.queued", n=2)
    assert first is not None
    assert second is not None
    EventDelivery.objects.filter(event=second).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5), attempts=1
    )

    assert outbox.delivery_run(delivery_id=EventDelivery.objects.get(event=first).pk) is True

    assert (handlers.batches, handlers.calls) == ([], [first.pk])
    assert EventDelivery.objects.get(event=second).state == "pending"


def test_a_failed_batch_changes_nothing_and_the_delivery_runs_alone():
    first, second = outbox.publish("thing.piled", n=1), outbox.publish("thing.piled", n=2)
    assert first is not None
    assert second is not None

    assert outbox.delivery_run(delivery_id=EventDelivery.objects.get(event=first).pk) is True

    assert handlers.calls == [first.pk]  # `measure`, the single handler
    assert not User.objects.filter(email__startswith="half-done-batch").exists()
    states = dict(EventDelivery.objects.values_list("event_id", "state"))
    assert states == {first.pk: "done", second.pk: "pending"}
