"""notify(), send_webhook(), cancel_pending(): rules become deliveries, once per key."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.notify.models import Delivery, DeskNotification, Notification, NotificationRule
from incidents.notify.selectors import notifications_for
from incidents.notify.services import (
    cancel_pending,
    contact_method_create,
    notify,
    rule_create,
    rule_move,
    send_webhook,
)
from tests.notify.factories import ContactMethodFactory, RuleFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def page(person, key="page/1/step/0", importance="default", **extra):
    return notify(
        recipient=person, subject="Hub down", body="503 on every request", key=key,
        importance=importance, source="page", source_id=1,
        actions={"Acknowledge": "https://desk.example/a", "Resolve": "https://desk.example/r"},
        **extra,
    )  # fmt: skip


def plan(notification):
    return [
        (d.step, d.channel, d.address, d.due_at, d.status)
        for d in notification.deliveries.order_by("step")
    ]


@pytest.mark.django_db
def test_rules_become_deliveries_in_order_each_after_its_delay(
    person, sends, django_capture_on_commit_callbacks
):
    phone = ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    RuleFactory.create(
        user=person, position=2, channel="sms", delay_minutes=5, contact_method=phone
    )
    RuleFactory.create(user=person, position=0, channel="email", delay_minutes=0)
    RuleFactory.create(user=person, position=1, channel="desk", delay_minutes=1)
    RuleFactory.create(user=person, importance="important", position=0, channel="sms")

    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        notification = page(person)
        assert sends == []  # nothing leaves before commit

    assert plan(notification) == [
        (0, "email", "oncall@desk.example", T0, "pending"),
        (1, "desk", "", T0 + timedelta(minutes=1), "pending"),
        (2, "sms", "+4915112345678", T0 + timedelta(minutes=5), "pending"),
    ]
    keys = list(notification.deliveries.order_by("step").values_list("idempotency_key", flat=True))
    assert keys == ["page/1/step/0/0", "page/1/step/0/1", "page/1/step/0/2"]
    email = notification.deliveries.get(step=0)
    assert sends == [(email.pk, None)]  # only what is due now goes to a worker


@pytest.mark.django_db
def test_important_notifications_follow_the_important_rules(person):
    RuleFactory.create(user=person, position=0, channel="email")
    RuleFactory.create(user=person, importance="important", position=0, channel="desk")
    RuleFactory.create(
        user=person, importance="important", position=1, channel="email", delay_minutes=2
    )

    with time_machine.travel(T0, tick=False):
        notification = page(person, importance="important")

    assert plan(notification) == [
        (0, "desk", "", T0, "sent"),
        (1, "email", "oncall@desk.example", T0 + timedelta(minutes=2), "pending"),
    ]
    assert notification.importance == "important"


@pytest.mark.django_db
def test_important_falls_back_on_the_default_rules(person):
    RuleFactory.create(user=person, position=0, channel="desk", delay_minutes=3)

    with time_machine.travel(T0, tick=False):
        notification = page(person, importance="important")

    assert plan(notification) == [(0, "desk", "", T0 + timedelta(minutes=3), "pending")]


@pytest.mark.django_db
def test_without_rules_a_person_gets_an_email_and_a_desk_notification_now(
    person, sends, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        notification = page(person)

    assert plan(notification) == [
        (0, "email", "oncall@desk.example", T0, "pending"),
        (1, "desk", "", T0, "sent"),
    ]
    entry = DeskNotification.objects.get()
    assert (entry.user, entry.notification, entry.read_at) == (person, notification, None)
    assert sends == [(notification.deliveries.get(step=0).pk, None)]


@pytest.mark.django_db
def test_a_step_without_an_address_fails_at_once_with_the_reason(
    person, sends, django_capture_on_commit_callbacks
):
    RuleFactory.create(user=person, position=0, channel="sms")
    RuleFactory.create(user=person, position=1, channel="webhook")

    with django_capture_on_commit_callbacks(execute=True):
        notification = page(person)

    sms, webhook = notification.deliveries.order_by("step")
    assert (sms.status, sms.last_error) == (
        "failed", f"{person} has no sms contact method to send to."
    )  # fmt: skip
    assert (webhook.status, webhook.last_error) == (
        "failed", f"{person} has no webhook contact method to send to."
    )  # fmt: skip
    assert sends == []


@pytest.mark.django_db
def test_a_step_without_a_contact_method_uses_the_persons_first_of_that_kind(person):
    ContactMethodFactory.create(user=person, kind="sms", address="+4915100000001")
    ContactMethodFactory.create(user=person, kind="sms", address="+4915100000002")
    RuleFactory.create(user=person, position=0, channel="sms")

    notification = page(person)

    assert notification.deliveries.get().address == "+4915100000001"


@pytest.mark.django_db
def test_the_same_key_twice_is_one_notification_with_one_set_of_deliveries(
    person, sends, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = page(person, key="page/9/step/0/repeat/0")
    with django_capture_on_commit_callbacks(execute=True):
        again = notify(
            recipient=person, subject="Something else", body="", key="page/9/step/0/repeat/0",
            importance="important",
        )  # fmt: skip

    assert again.pk == first.pk
    assert again.subject == "Hub down"
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 2
    assert DeskNotification.objects.count() == 1
    assert len(sends) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_key_from_two_transactions_at_once_makes_one_notification(person):
    """The second transaction waits for the first's insert and then returns its row."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    results: list[int] = []

    def call() -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=5)
                results.append(page(person, key="race").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 2
    assert len(set(results)) == 1
    assert Notification.objects.filter(key="race").count() == 1
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_cancel_pending_stops_the_steps_not_sent_yet(person):
    RuleFactory.create(user=person, position=0, channel="desk")
    RuleFactory.create(user=person, position=1, channel="email", delay_minutes=5)
    RuleFactory.create(user=person, position=2, channel="email", delay_minutes=10)
    with time_machine.travel(T0, tick=False):
        notification = page(person)
        other = notify(
            recipient=person, subject="x", body="", key="other", source="page", source_id=2
        )

    assert cancel_pending(source="page", source_id=1) == 2
    assert cancel_pending(source="page", source_id=1) == 0

    assert [d.status for d in notification.deliveries.order_by("step")] == [
        "sent", "cancelled", "cancelled",
    ]  # fmt: skip
    assert sorted(d.status for d in other.deliveries.all()) == ["pending", "pending", "sent"]


@pytest.mark.django_db
def test_cancel_pending_leaves_a_delivery_being_sent(person):
    RuleFactory.create(user=person, position=0, channel="email")
    notification = page(person)
    Delivery.objects.filter(notification=notification).update(status="sending")

    assert cancel_pending(source="page", source_id=1) == 0


@pytest.mark.django_db
def test_send_webhook_makes_one_signed_delivery_per_key(sends, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_webhook(
            url="https://hooks.example/page", payload={"summary": "Hub down", "page": 4},
            key="page/4/step/1/webhook", secret="s3cret", source="page", source_id=4,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        again = send_webhook(
            url="https://hooks.example/other", payload={}, key="page/4/step/1/webhook",
            source="page", source_id=4,
        )  # fmt: skip

    assert again.pk == delivery.pk
    assert (delivery.channel, delivery.address, delivery.payload, delivery.signing_secret) == (
        "webhook", "https://hooks.example/page", {"summary": "Hub down", "page": 4}, "s3cret",
    )  # fmt: skip
    assert delivery.notification.recipient is None
    assert delivery.notification.subject == "Hub down"
    assert sends == [(delivery.pk, None)]


@pytest.mark.django_db
def test_send_webhook_refuses_a_url_that_is_not_http():
    with pytest.raises(ValidationError) as error:
        send_webhook(url="ftp://hooks.example/x", payload={}, key="k")

    assert error.value.message_dict == {"url": ["Enter a valid http or https URL."]}
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_notify_refuses_an_unknown_importance(person):
    with pytest.raises(ValidationError) as error:
        page(person, importance="urgent")

    assert list(error.value.message_dict) == ["importance"]
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_notifications_for_a_source_come_with_their_deliveries(person, django_assert_num_queries):
    with time_machine.travel(T0, tick=False) as clock:
        page(person, key="a")
        clock.shift(60)
        page(person, key="b")
    notify(recipient=person, subject="x", body="", key="elsewhere", source="page", source_id=2)

    with django_assert_num_queries(2):
        found = list(notifications_for("page", 1))
        shown = [(n.key, [d.channel for d in n.deliveries.all()]) for n in found]

    assert shown == [("a", ["email", "desk"]), ("b", ["email", "desk"])]


# ---------------------------------------------------------------- validation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "address", "message"),
    [
        ("sms", "015112345678", "Enter the number in international (E.164) form, e.g. +4915112345678."),
        ("sms", "+49 151 1234", "Enter the number in international (E.164) form, e.g. +4915112345678."),
        ("webhook", "http://hooks.example/x", "The URL must start with https://."),
        ("webhook", "not a url", "Enter a valid https URL."),
        ("email", "nobody@", "Enter a valid email address."),
    ],
)  # fmt: skip
def test_a_bad_address_is_refused_and_nothing_saved(person, kind, address, message):
    with pytest.raises(ValidationError) as error:
        contact_method_create(user=person, kind=kind, address=address)

    assert error.value.message_dict == {"address": [message]}
    assert person.contact_methods.count() == 0


@pytest.mark.django_db
def test_good_addresses_are_kept(person):
    for kind, address in [
        ("sms", "+4915112345678"), ("webhook", "https://hooks.example/x"), ("email", "me@x.example"),
    ]:  # fmt: skip
        contact_method_create(user=person, kind=kind, address=address)

    assert sorted(person.contact_methods.values_list("kind", flat=True)) == [
        "email",
        "sms",
        "webhook",
    ]


@pytest.mark.django_db
def test_the_same_contact_method_twice_is_refused(person):
    contact_method_create(user=person, kind="sms", address="+4915112345678")

    with pytest.raises(ValidationError) as error:
        contact_method_create(user=person, kind="sms", address="+4915112345678")

    assert error.value.message_dict == {"address": ["You have this contact method already."]}


@pytest.mark.django_db
def test_a_negative_delay_is_refused_and_nothing_saved(person):
    with pytest.raises(ValidationError) as error:
        rule_create(user=person, importance="default", channel="email", delay_minutes=-1)

    assert list(error.value.message_dict) == ["delay_minutes"]
    assert NotificationRule.objects.count() == 0


@pytest.mark.django_db
def test_a_rule_must_use_a_contact_method_of_its_channel_and_of_its_person(person):
    phone = ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    theirs = ContactMethodFactory.create(kind="email")

    with pytest.raises(ValidationError) as wrong_kind:
        rule_create(
            user=person,
            importance="default",
            channel="email",
            delay_minutes=0,
            contact_method=phone,
        )
    with pytest.raises(ValidationError) as not_mine:
        rule_create(
            user=person,
            importance="default",
            channel="email",
            delay_minutes=0,
            contact_method=theirs,
        )

    assert wrong_kind.value.message_dict == {
        "contact_method": ["Choose a Email contact method for this channel."]
    }
    assert not_mine.value.message_dict == {
        "contact_method": ["Choose one of your own contact methods."]
    }
    assert NotificationRule.objects.count() == 0


@pytest.mark.django_db
def test_rules_are_added_at_the_end_and_move_up_and_down(person):
    first = rule_create(user=person, importance="default", channel="email", delay_minutes=0)
    second = rule_create(user=person, importance="default", channel="desk", delay_minutes=2)
    important = rule_create(user=person, importance="important", channel="desk", delay_minutes=0)

    assert (first.position, second.position, important.position) == (0, 1, 0)
    assert rule_move(rule=second, direction="up") is True
    assert rule_move(rule=second, direction="up") is False

    order = NotificationRule.objects.filter(user=person, importance="default").order_by("position")
    assert [r.channel for r in order] == ["desk", "email"]
    assert second.history.count() == 2  # created, moved


@pytest.mark.django_db(transaction=True)
def test_a_notification_is_never_left_without_its_deliveries(person):
    """Outside any transaction too: a failure half-way leaves nothing behind, and the same
    key later makes the whole notification."""
    from unittest import mock

    with (
        mock.patch.object(Delivery.objects, "bulk_create", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        page(person, key="half")

    assert not Notification.objects.filter(key="half").exists()
    assert page(person, key="half").deliveries.count() == 2
