"""Sending: webhooks, SMS and email against local receivers; retries, permanent failures,
and never sending one delivery twice."""

import hashlib
import hmac
import smtplib
import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import connection

from incidents.notify import sending
from incidents.notify.models import Delivery, DeskNotification
from incidents.notify.sending import backoff, claim, claim_due, deliver, sweep
from incidents.notify.services import notify, send_webhook
from tests.notify.conftest import run_due
from tests.notify.factories import ContactMethodFactory, RuleFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTIONS = {"Acknowledge": "https://desk.example/ack/x", "Resolve": "https://desk.example/res/x"}


def hook(receiver, key="page/1/step/0/webhook", secret="s3cret"):
    return send_webhook(
        url=receiver.url, payload={"summary": "Hub down", "page": 1}, key=key, secret=secret,
        source="page", source_id=1,
    )  # fmt: skip


def reload(delivery):
    return Delivery.objects.get(pk=delivery.pk)


# ---------------------------------------------------------------- webhooks


@pytest.mark.django_db
def test_a_webhook_is_signed_with_the_secret_over_the_raw_body(receiver):
    delivery = hook(receiver)

    assert deliver(delivery_id=delivery.pk) == "sent"

    [request] = receiver.received
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Supportdesk-Signature"] == f"sha256={expected}"
    assert request.headers["Idempotency-Key"] == "page/1/step/0/webhook/0"
    assert request.headers["Content-Type"] == "application/json"
    assert abs(int(request.headers["X-Supportdesk-Timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert request.json() == {"summary": "Hub down", "page": 1}
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    assert delivery.provider_response == "HTTP 200: {}"
    assert delivery.sent_at is not None


@pytest.mark.django_db
def test_without_a_secret_of_its_own_a_webhook_is_signed_with_the_setting(receiver, settings):
    settings.PAGING_WEBHOOK_SECRET = "from-settings"
    delivery = hook(receiver, secret="")

    deliver(delivery_id=delivery.pk)

    [request] = receiver.received
    expected = hmac.new(b"from-settings", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Supportdesk-Signature"] == f"sha256={expected}"


@pytest.mark.django_db
def test_a_persons_webhook_carries_the_notification_and_its_actions(person, receiver):
    method = ContactMethodFactory.create(
        user=person, kind="webhook", address=receiver.url, secret="theirs"
    )
    RuleFactory.create(user=person, channel="webhook", contact_method=method)
    with time_machine.travel(T0, tick=False):
        notification = notify(
            recipient=person, subject="Hub down", body="503", key="n1", importance="important",
            source="page", source_id=3, actions=ACTIONS,
        )  # fmt: skip
    delivery = notification.deliveries.get()

    deliver(delivery_id=delivery.pk)

    [request] = receiver.received
    expected = hmac.new(b"theirs", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Supportdesk-Signature"] == f"sha256={expected}"
    assert request.json() == {
        "type": "notification",
        "notification": {
            "id": notification.pk, "key": "n1", "subject": "Hub down", "body": "503",
            "importance": "important", "source": "page", "source_id": 3, "actions": ACTIONS,
            "created_at": "2026-03-02T09:00:00+00:00",
        },
        "recipient": "oncall@desk.example",
        "delivery": "n1/0",
    }  # fmt: skip


@pytest.mark.django_db
def test_a_webhook_answered_500_is_retried_with_backoff_until_it_succeeds(receiver):
    receiver.answer((500, "busy"), (503, "still busy"), (200, '{"id": "evt_42"}'))
    with time_machine.travel(T0, tick=False) as clock:
        delivery = hook(receiver)
        assert deliver(delivery_id=delivery.pk) == "pending"
        first = reload(delivery)
        assert (first.attempts, first.next_attempt_at) == (1, T0 + timedelta(seconds=30))
        assert (first.last_error, first.provider_response) == (
            "The receiver answered HTTP 500.", "HTTP 500: busy",
        )  # fmt: skip
        assert deliver(delivery_id=delivery.pk) is None  # not due yet
        clock.move_to(T0 + timedelta(seconds=30))
        assert deliver(delivery_id=delivery.pk) == "pending"
        assert reload(delivery).next_attempt_at == T0 + timedelta(seconds=30 + 120)
        clock.move_to(T0 + timedelta(seconds=150))
        assert deliver(delivery_id=delivery.pk) == "sent"
        clock.move_to(T0 + timedelta(hours=1))
        assert deliver(delivery_id=delivery.pk) is None  # sent: never again
        assert claim_due() == []

    assert len(receiver.received) == 3
    assert {r.headers["Idempotency-Key"] for r in receiver.received} == {"page/1/step/0/webhook/0"}
    done = reload(delivery)
    assert (done.status, done.attempts, done.provider_id, done.last_error) == (
        "sent", 3, "evt_42", "",
    )  # fmt: skip


def test_the_backoff_grows_four_times_each_attempt(settings):
    settings.PAGING_DELIVERY_BACKOFF_SECONDS = 30
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 120, 480, 1920]


@pytest.mark.django_db
def test_a_webhook_answered_200_is_not_sent_again(receiver):
    delivery = hook(receiver)

    assert deliver(delivery_id=delivery.pk) == "sent"
    assert deliver(delivery_id=delivery.pk) is None
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1)):
        assert sweep().claimed == 0

    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_a_webhook_answered_4xx_fails_at_once_with_the_answer(receiver):
    receiver.answer((422, '{"error": "unknown service"}'))
    delivery = hook(receiver)

    assert deliver(delivery_id=delivery.pk) == "failed"
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1)):
        assert claim_due() == []

    failed = reload(delivery)
    assert (failed.status, failed.attempts, failed.last_error, failed.provider_response) == (
        "failed", 1, "The receiver answered HTTP 422.", 'HTTP 422: {"error": "unknown service"}',
    )  # fmt: skip
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_a_webhook_that_times_out_is_retried(receiver, settings):
    settings.PAGING_WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer((200, "{}", 1.0), (200, "{}"))
    with time_machine.travel(T0) as clock:
        delivery = hook(receiver)
        assert deliver(delivery_id=delivery.pk) == "pending"
        assert reload(delivery).last_error.startswith("ReadTimeout")
        clock.move_to(T0 + timedelta(seconds=31))
        assert deliver(delivery_id=delivery.pk) == "sent"

    assert len(receiver.received) == 2


@pytest.mark.django_db
def test_a_webhook_nobody_answers_is_retried_then_given_up(settings):
    settings.PAGING_DELIVERY_MAX_ATTEMPTS = 2
    with time_machine.travel(T0, tick=False) as clock:
        delivery = send_webhook(url="http://127.0.0.1:9/nobody", payload={}, key="k")
        assert deliver(delivery_id=delivery.pk) == "pending"
        assert reload(delivery).last_error.startswith("ConnectionError")
        clock.move_to(T0 + timedelta(seconds=30))
        assert deliver(delivery_id=delivery.pk) == "failed"

    assert (reload(delivery).status, reload(delivery).attempts) == ("failed", 2)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_delivery_send_it_once(receiver):
    receiver.answer((200, "{}", 0.3))
    delivery = hook(receiver)
    start = threading.Barrier(4)
    results, errors = [], []

    def work() -> None:
        try:
            start.wait(timeout=10)
            results.append(deliver(delivery_id=delivery.pk))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results, key=str) == [None, None, None, "sent"]
    assert len(receiver.received) == 1
    assert reload(delivery).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_sweep_and_a_worker_racing_send_once(receiver):
    receiver.answer((200, "{}", 0.2))
    deliveries = [hook(receiver, key=f"race/{n}") for n in range(10)]
    start = threading.Barrier(3)
    errors = []
    published: list[tuple[int, int | None]] = []
    lock = threading.Lock()

    def record(delivery_id, attempt):
        with lock:
            published.append((delivery_id, attempt))

    def sweeper() -> None:
        try:
            start.wait(timeout=10)
            sweep()
            run_due(published)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def worker() -> None:
        try:
            start.wait(timeout=10)
            for delivery in deliveries:
                deliver(delivery_id=delivery.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(sending, "_publish", side_effect=record):
        threads = [threading.Thread(target=t) for t in (sweeper, sweeper, worker)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    keys = sorted(r.headers["Idempotency-Key"] for r in receiver.received)
    assert keys == sorted(f"race/{n}/0" for n in range(10))
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}


# ---------------------------------------------------------------- the sweeper's claim


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_claim_disjoint_deliveries():
    with time_machine.travel(T0, tick=False):
        for n in range(60):
            send_webhook(url="https://hooks.example/x", payload={}, key=f"k{n}")
    start = threading.Barrier(2)
    claimed: list[list[tuple[int, int, str]]] = []
    errors = []

    def claim_in_batches() -> None:
        try:
            start.wait(timeout=10)
            mine: list[tuple[int, int, str]] = []
            while batch := claim_due(now=T0 + timedelta(seconds=1), batch=5):
                mine.extend(batch)
            claimed.append(mine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_in_batches) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    ids = [i for mine in claimed for i, _, _ in mine]
    assert len(ids) == 60
    assert len(set(ids)) == 60
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sending", 1)}


@pytest.mark.django_db(transaction=True)
def test_a_delivery_another_transaction_holds_is_left_to_the_next_sweep():
    with time_machine.travel(T0, tick=False):
        held, free = (send_webhook(url="https://h.example/", payload={}, key=k) for k in "ab")
    from django.db import connections

    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT 1 FROM notify_delivery WHERE id = %s FOR UPDATE", [held.pk])
        first = claim_due(now=T0 + timedelta(seconds=1))
        holder.rollback()
        second = claim_due(now=T0 + timedelta(seconds=1))
    finally:
        holder.close()

    assert [i for i, _, _ in first] == [free.pk]
    assert [i for i, _, _ in second] == [held.pk]


@pytest.mark.django_db
def test_the_sweeper_takes_later_steps_when_they_come_due(person, sends):
    RuleFactory.create(user=person, position=0, channel="email", delay_minutes=0)
    RuleFactory.create(user=person, position=1, channel="desk", delay_minutes=1)
    RuleFactory.create(user=person, position=2, channel="email", delay_minutes=5)
    with time_machine.travel(T0, tick=False) as clock:
        notification = notify(recipient=person, subject="Hub down", body="", key="n")
        email_now, desk, email_later = notification.deliveries.order_by("step")
        clock.move_to(T0 + timedelta(seconds=59))
        # The first email's task is lost (never run): the sweeper takes it.
        result = sweep()
        assert (result.claimed, result.sent_inline, result.enqueued) == (1, 0, 1)
        assert sends == [(email_now.pk, 1)]
        run_due(sends)
        clock.move_to(T0 + timedelta(minutes=1))
        result = sweep()
        assert (result.claimed, result.sent_inline) == (1, 1)
        assert DeskNotification.objects.filter(delivery=desk).count() == 1
        clock.move_to(T0 + timedelta(minutes=5))
        assert sweep().enqueued == 1
        run_due(sends)

    assert [d.status for d in notification.deliveries.order_by("step")] == ["sent"] * 3
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_delivery_whose_worker_died_is_taken_again_after_its_lease(receiver, settings, sends):
    settings.PAGING_DELIVERY_LEASE_SECONDS = 120
    with time_machine.travel(T0, tick=False) as clock:
        delivery = hook(receiver)
        assert claim(delivery.pk) == 1  # a worker took it, and died
        clock.move_to(T0 + timedelta(seconds=119))
        assert sweep().claimed == 0
        clock.move_to(T0 + timedelta(seconds=120))
        assert sweep().claimed == 1
        assert sends == [(delivery.pk, 2)]
        # The first worker's task, delivered again, finds it no longer its own.
        assert deliver(delivery_id=delivery.pk, attempt=1) is None
        run_due(sends)

    assert (reload(delivery).status, reload(delivery).attempts) == ("sent", 2)
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_a_delivery_that_never_finishes_is_given_up(settings):
    settings.PAGING_DELIVERY_MAX_ATTEMPTS = 2
    with time_machine.travel(T0, tick=False) as clock:
        delivery = send_webhook(url="https://h.example/", payload={}, key="k")
        claim(delivery.pk)
        clock.shift(settings.PAGING_DELIVERY_LEASE_SECONDS)
        claim(delivery.pk)
        clock.shift(settings.PAGING_DELIVERY_LEASE_SECONDS)
        assert sweep().claimed == 0

    gone = reload(delivery)
    assert (gone.status, gone.last_error) == (
        "failed",
        "No attempt finished within its lease 2 times.",
    )


@pytest.mark.django_db
def test_a_cancelled_retry_is_not_sent(receiver):
    receiver.answer((500, "busy"), (200, "{}"))
    from incidents.notify.services import cancel_pending

    with time_machine.travel(T0, tick=False) as clock:
        delivery = hook(receiver)
        deliver(delivery_id=delivery.pk)
        assert cancel_pending(source="page", source_id=1) == 1
        clock.move_to(T0 + timedelta(minutes=5))
        assert sweep().claimed == 0

    assert reload(delivery).status == "cancelled"
    assert len(receiver.received) == 1


# ---------------------------------------------------------------- SMS


@pytest.mark.django_db
def test_sms_goes_through_the_gateway_with_its_token(person, receiver, settings):
    settings.PAGING_SMS_GATEWAY_URL = receiver.url
    settings.PAGING_SMS_GATEWAY_TOKEN = "gw-token"
    receiver.answer((202, '{"message_id": "SM123"}'))
    phone = ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    RuleFactory.create(user=person, channel="sms", contact_method=phone)
    notification = notify(
        recipient=person, subject="Hub down", body="long text", key="s", actions=ACTIONS
    )
    delivery = notification.deliveries.get()

    assert deliver(delivery_id=delivery.pk) == "sent"

    [request] = receiver.received
    assert request.headers["Authorization"] == "Bearer gw-token"
    assert request.headers["Idempotency-Key"] == "s/0"
    assert request.json() == {
        "to": "+4915112345678",
        "body": "Hub down\nAcknowledge: https://desk.example/ack/x\nResolve: https://desk.example/res/x",
    }
    assert reload(delivery).provider_id == "SM123"


@pytest.mark.django_db
def test_sms_gateway_errors_are_retried_on_5xx_and_not_on_4xx(person, receiver, settings):
    settings.PAGING_SMS_GATEWAY_URL = receiver.url
    receiver.answer((502, "bad gateway"), (400, '{"error": "invalid number"}'))
    ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    RuleFactory.create(user=person, channel="sms")
    with time_machine.travel(T0, tick=False) as clock:
        delivery = notify(recipient=person, subject="x", body="", key="s").deliveries.get()
        assert deliver(delivery_id=delivery.pk) == "pending"
        clock.move_to(T0 + timedelta(seconds=30))
        assert deliver(delivery_id=delivery.pk) == "failed"

    assert reload(delivery).provider_response == 'HTTP 400: {"error": "invalid number"}'


@pytest.mark.django_db
def test_sms_without_a_gateway_fails_and_says_why(person, settings, caplog):
    settings.PAGING_SMS_GATEWAY_URL = ""
    ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    RuleFactory.create(user=person, channel="sms")
    delivery = notify(recipient=person, subject="x", body="", key="s").deliveries.get()

    assert deliver(delivery_id=delivery.pk) == "failed"

    reason = "No SMS gateway is configured (PAGING_SMS_GATEWAY_URL is empty)."
    assert reload(delivery).last_error == reason
    assert reason in caplog.text


# ---------------------------------------------------------------- email


@pytest.mark.django_db
def test_an_email_carries_the_body_and_the_action_links_once(person):
    notification = notify(
        recipient=person, subject="[P1] Hub down", body="503 on every request", key="e",
        actions=ACTIONS,
    )  # fmt: skip
    email = notification.deliveries.get(channel="email")

    assert deliver(delivery_id=email.pk) == "sent"
    assert deliver(delivery_id=email.pk) is None  # the task again: nothing more

    [message] = mail.outbox
    assert message.subject == "[P1] Hub down"
    assert message.to == ["oncall@desk.example"]
    assert message.body == (
        "503 on every request\n\n"
        "Acknowledge: https://desk.example/ack/x\nResolve: https://desk.example/res/x\n"
    )
    expected_id = "<notify." + hashlib.sha256(b"e/0").hexdigest()[:40] + "@127.0.0.1>"
    assert message.extra_headers["Message-ID"] == expected_id
    assert message.message()["Message-ID"] == expected_id
    assert reload(email).provider_id == expected_id


@pytest.mark.django_db(transaction=True)
def test_an_email_task_run_twice_at_once_sends_one_email(person):
    email = notify(recipient=person, subject="x", body="", key="e").deliveries.get(channel="email")
    start = threading.Barrier(2)

    def work() -> None:
        try:
            start.wait(timeout=10)
            deliver(delivery_id=email.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(mail.outbox) == 1
    assert reload(email).status == "sent"


@pytest.mark.django_db
def test_smtp_errors_are_retried(person):
    email = notify(recipient=person, subject="x", body="", key="e").deliveries.get(channel="email")
    with mock.patch(
        "django.core.mail.EmailMessage.send", side_effect=smtplib.SMTPServerDisconnected("gone")
    ):
        assert deliver(delivery_id=email.pk) == "pending"

    assert reload(email).last_error == "SMTPServerDisconnected: gone"


@pytest.mark.django_db
def test_an_address_the_mail_server_refuses_is_not_retried(person):
    email = notify(recipient=person, subject="x", body="", key="e").deliveries.get(channel="email")
    refused = smtplib.SMTPRecipientsRefused({"oncall@desk.example": (550, b"no such user")})
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=refused):
        assert deliver(delivery_id=email.pk) == "failed"


# ---------------------------------------------------------------- settings


def test_the_tasks_run_on_the_paging_queue_and_the_sweep_every_few_seconds(settings):
    assert settings.CELERY_TASK_ROUTES["notify.send_delivery"] == {"queue": "paging"}
    assert settings.CELERY_TASK_ROUTES["notify.sweep"] == {"queue": "paging"}
    beat = settings.CELERY_BEAT_SCHEDULE["notify-sweep"]
    assert (beat["task"], beat["schedule"]) == (
        "notify.sweep",
        settings.PAGING_DELIVERY_SWEEP_SECONDS,
    )
    assert Delivery._meta.db_table == "notify_delivery"


# ---------------------------------------------------------------- a broker that is down


@pytest.mark.django_db
def test_a_delivery_the_broker_never_got_is_sent_by_the_sweeper(
    person, sends, django_capture_on_commit_callbacks, caplog
):
    with (
        time_machine.travel(T0, tick=False) as clock,
        mock.patch.object(sending, "_publish", side_effect=ConnectionError("redis is down")),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            notification = notify(recipient=person, subject="Hub down", body="", key="lost")
        email = notification.deliveries.get(channel="email")
        assert f"delivery {email.pk} not enqueued; the sweeper will send it" in caplog.text
        clock.shift(3)
    assert reload(email).status == "pending"

    with time_machine.travel(T0 + timedelta(seconds=3), tick=False):
        result = sweep()
        assert (result.claimed, result.enqueued) == (1, 1)
        run_due(sends)

    assert reload(email).status == "sent"
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_sweep_claims_batch_after_batch_until_nothing_is_due(sends):
    with time_machine.travel(T0, tick=False):
        deliveries = [
            send_webhook(url="https://h.example/", payload={}, key=f"k{n}") for n in range(12)
        ]
        sends.clear()
        result = sweep(batch=5)

    assert (result.claimed, result.enqueued) == (12, 12)
    assert sorted(i for i, _ in sends) == sorted(d.pk for d in deliveries)


@pytest.mark.django_db
def test_a_sweep_stops_at_its_time_budget(sends):
    with time_machine.travel(T0, tick=False):
        for n in range(12):
            send_webhook(url="https://h.example/", payload={}, key=f"k{n}")
        result = sweep(batch=5, time_budget=0)

    assert result.claimed == 5


@pytest.mark.django_db
def test_the_sweeps_claim_reads_the_partial_index_of_due_deliveries():
    """Sent deliveries are most of the table and none of the index."""
    from incidents.notify.models import Notification

    notifications = Notification.objects.bulk_create(
        Notification(subject="x", key=f"old{n}") for n in range(3000)
    )
    Delivery.objects.bulk_create(
        Delivery(notification=n, channel="email", address="a@b.example", status="sent",
                 sent_at=T0, idempotency_key=f"{n.key}/0", next_attempt_at=T0)
        for n in notifications
    )  # fmt: skip
    send_webhook(url="https://h.example/", payload={}, key="due")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notify_delivery")
        cursor.execute(
            "EXPLAIN " + sending.CLAIM_BATCH_SQL,
            {"now": T0 + timedelta(days=1), "lease": T0, "batch": 200},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "delivery_sweep_due" in plan, plan
