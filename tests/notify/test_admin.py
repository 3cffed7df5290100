"""The admin: contact methods and rules (with history, added through the services), and
notifications with their deliveries, read-only."""

from __future__ import annotations

from unittest import mock

import pytest

from incidents.notify import services
from incidents.notify.models import ContactMethod, NotificationRule
from incidents.notify.services import notify, send_webhook
from tests.core.factories import AgentFactory, UserFactory
from tests.notify.factories import ContactMethodFactory, RuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def rows():
    person = AgentFactory.create()
    method = ContactMethodFactory.create(user=person, kind="sms", address="+4915112345678")
    rule = RuleFactory.create(user=person, channel="sms", contact_method=method)
    notification = notify(recipient=person, subject="Hub down", body="", key="k")
    delivery = send_webhook(
        url="https://hooks.example/x", payload={}, key="w", secret="hidden-secret"
    )
    return {"method": method, "rule": rule, "notification": notification, "delivery": delivery}


def test_the_admin_pages_render(admin_client, rows):
    paths = [
        "/admin/notify/contactmethod/", "/admin/notify/contactmethod/add/",
        f"/admin/notify/contactmethod/{rows['method'].pk}/change/",
        f"/admin/notify/contactmethod/{rows['method'].pk}/history/",
        "/admin/notify/notificationrule/", "/admin/notify/notificationrule/add/",
        f"/admin/notify/notificationrule/{rows['rule'].pk}/change/",
        f"/admin/notify/notificationrule/{rows['rule'].pk}/history/",
        "/admin/notify/notification/", f"/admin/notify/notification/{rows['notification'].pk}/change/",
        "/admin/notify/notification/?delivery_status=pending",
        "/admin/notify/notification/?delivery_channel=webhook",
        "/admin/notify/delivery/", "/admin/notify/delivery/?status=pending&channel=sms",
        f"/admin/notify/delivery/{rows['delivery'].pk}/change/",
    ]  # fmt: skip
    for path in paths:
        assert admin_client.get(path).status_code == 200, path


def test_a_notification_shows_its_deliveries_and_filters_by_their_status(admin_client, rows):
    page = admin_client.get(f"/admin/notify/notification/{rows['notification'].pk}/change/")
    html = page.content.decode()
    assert "k/0" in html
    assert "+4915112345678" in html

    failed = admin_client.get("/admin/notify/notification/?delivery_status=failed").content.decode()
    pending = admin_client.get(
        "/admin/notify/notification/?delivery_status=pending"
    ).content.decode()
    assert "Hub down" not in failed
    assert "Hub down" in pending


def test_a_webhooks_secret_is_never_shown(admin_client, rows):
    html = admin_client.get(
        f"/admin/notify/delivery/{rows['delivery'].pk}/change/"
    ).content.decode()
    assert "hidden-secret" not in html


def test_the_admin_adds_contact_methods_and_rules_through_the_services(admin_client):
    person = AgentFactory.create()
    with mock.patch.object(
        services, "contact_method_create", wraps=services.contact_method_create
    ) as create:
        response = admin_client.post(
            "/admin/notify/contactmethod/add/",
            {"user": person.pk, "kind": "sms", "address": "+4915112345678", "label": "work",
             "created_at_0": "2026-03-02", "created_at_1": "09:00:00"},
        )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert create.call_count == 1
    method = ContactMethod.objects.get()

    with mock.patch.object(services, "rule_create", wraps=services.rule_create) as add_rule:
        response = admin_client.post(
            "/admin/notify/notificationrule/add/",
            {"user": person.pk, "importance": "important", "channel": "sms", "delay_minutes": 1,
             "contact_method": method.pk},
        )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert add_rule.call_count == 1
    rule = NotificationRule.objects.get()
    assert (rule.importance, rule.position, rule.history.count()) == ("important", 0, 1)


def test_the_admin_refuses_a_bad_phone_number_beside_the_field(admin_client):
    person = AgentFactory.create()
    response = admin_client.post(
        "/admin/notify/contactmethod/add/",
        {"user": person.pk, "kind": "sms", "address": "12345"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "address": ["Enter the number in international (E.164) form, e.g. +4915112345678."]
    }
    assert not ContactMethod.objects.exists()


def test_the_admin_sends_failed_deliveries_again(
    admin_client, rows, sends, django_capture_on_commit_callbacks
):
    from incidents.notify.models import Delivery

    failed, sent = rows["delivery"], rows["notification"].deliveries.get()
    Delivery.objects.filter(pk=failed.pk).update(status="failed", attempts=5, last_error="HTTP 500")
    Delivery.objects.filter(pk=sent.pk).update(status="sent", sent_at=failed.created_at)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notify/delivery/",
            {"action": "send_again", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    assert [str(m) for m in response.context["messages"]] == [
        "1 delivery will be sent again (sent ones, and those with no address, are left as they are)."
    ]
    again = Delivery.objects.get(pk=failed.pk)
    assert (again.status, again.attempts) == ("pending", 0)
    assert Delivery.objects.get(pk=sent.pk).status == "sent"
    assert sends == [(failed.pk, None)]
