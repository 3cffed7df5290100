"""The desk's "My notification rules" and "Notifications" pages: your own, and nobody
else's; staff only."""

from __future__ import annotations

import re

import pytest

from incidents.notify.models import ContactMethod, DeskNotification, Notification, NotificationRule
from incidents.notify.services import notify
from tests.core.factories import AgentFactory, UserFactory
from tests.notify.factories import ContactMethodFactory, RuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(db):
    return AgentFactory.create(email="me@desk.example")


@pytest.fixture
def desk(client, me):
    client.force_login(me)
    return client


@pytest.fixture
def theirs(db):
    """Another agent's rule, contact method and desk notification."""
    other = AgentFactory.create(email="other@desk.example")
    method = ContactMethodFactory.create(user=other, kind="sms", address="+4915199999999")
    rule = RuleFactory.create(user=other, channel="sms", contact_method=method)
    RuleFactory.create(user=other, channel="desk")
    notify(recipient=other, subject="Their page", body="", key="theirs")
    return {
        "user": other,
        "method": method,
        "rule": rule,
        "entry": DeskNotification.objects.get(user=other),
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def field_errors(html: str, name: str) -> list[str]:
    """The errors shown beside the field `name` (the form's prefix included)."""
    block = re.search(
        rf'<div class="field field-invalid">\s*<label for="id_{name}">.*?</div>', html, re.S
    )
    assert block, f"no errors beside {name}"
    return re.findall(
        r'<small id="id_[^"]+_error" class="error" role="alert">(.*?)</small>', block.group(0)
    )


def snapshot():
    return (
        list(NotificationRule.objects.order_by("pk").values()),
        list(ContactMethod.objects.order_by("pk").values()),
        list(DeskNotification.objects.order_by("pk").values()),
        Notification.objects.count(),
    )


# ---------------------------------------------------------------- rules


def test_the_rules_page_shows_my_rules_in_order_and_not_theirs(
    desk, me, theirs, django_assert_num_queries
):
    phone = ContactMethodFactory.create(user=me, kind="sms", address="+4915112345678", label="work")
    RuleFactory.create(user=me, position=1, channel="sms", delay_minutes=5, contact_method=phone)
    RuleFactory.create(user=me, position=0, channel="email")
    RuleFactory.create(user=me, importance="important", position=0, channel="desk")

    # session, user, rules, contact methods, the rule form's contact method choices
    with django_assert_num_queries(5):
        response = desk.get("/desk/notifications/rules/")

    html = response.content.decode()
    assert response.status_code == 200
    default = re.search(r'aria-label="Default rules">(.*?)</ol>', html, re.S)[1]  # type: ignore[index]
    important = re.search(r'aria-label="Important rules">(.*?)</ol>', html, re.S)[1]  # type: ignore[index]
    assert re.findall(r"<strong>(.*?)</strong>", default) == ["Email", "SMS"]
    assert "after 5 min" in default
    assert re.findall(r"<strong>(.*?)</strong>", important) == ["Desk notification"]
    assert "+4915112345678" in html
    assert "+4915199999999" not in html


def test_the_rules_page_query_count_stays_flat(desk, me, django_assert_num_queries):
    for n in range(8):
        method = ContactMethodFactory.create(user=me, kind="sms", address=f"+49151000000{n:02d}")
        RuleFactory.create(user=me, position=n, channel="sms", contact_method=method)

    with django_assert_num_queries(5):
        assert desk.get("/desk/notifications/rules/").status_code == 200


def test_adding_a_rule_puts_it_last_and_says_so(desk, me):
    RuleFactory.create(user=me, position=0, channel="email")

    response = desk.post(
        "/desk/notifications/rules/add/",
        {"rule-importance": "default", "rule-channel": "desk", "rule-delay_minutes": "2"},
        follow=True,
    )

    assert messages_of(response) == ["Added to your default rules: Desk notification after 2 min."]
    rules = NotificationRule.objects.filter(user=me).order_by("position")
    assert [(r.channel, r.delay_minutes, r.position) for r in rules] == [
        ("email", 0, 0),
        ("desk", 2, 1),
    ]


def test_a_negative_delay_is_shown_beside_its_field_and_nothing_saved(desk, me):
    response = desk.post(
        "/desk/notifications/rules/add/",
        {"rule-importance": "default", "rule-channel": "email", "rule-delay_minutes": "-5"},
    )

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "rule-delay_minutes") == [
        "A delay cannot be negative."
    ]
    assert not NotificationRule.objects.exists()


def test_a_contact_method_of_the_wrong_kind_is_refused_beside_its_field(desk, me):
    phone = ContactMethodFactory.create(user=me, kind="sms", address="+4915112345678")

    response = desk.post(
        "/desk/notifications/rules/add/",
        {"rule-importance": "default", "rule-channel": "email", "rule-delay_minutes": "0",
         "rule-contact_method": phone.pk},
    )  # fmt: skip

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "rule-contact_method") == [
        "Choose a Email contact method for this channel."
    ]
    assert not NotificationRule.objects.exists()


def test_someone_elses_contact_method_cannot_be_chosen(desk, me, theirs):
    before = snapshot()

    response = desk.post(
        "/desk/notifications/rules/add/",
        {"rule-importance": "default", "rule-channel": "sms", "rule-delay_minutes": "0",
         "rule-contact_method": theirs["method"].pk},
    )  # fmt: skip

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "rule-contact_method") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert snapshot() == before


def test_rules_move_and_are_deleted_with_a_message(desk, me):
    email = RuleFactory.create(user=me, position=0, channel="email")
    desk_rule = RuleFactory.create(user=me, position=1, channel="desk", delay_minutes=1)

    moved = desk.post(
        f"/desk/notifications/rules/{desk_rule.pk}/move/", {"direction": "up"}, follow=True
    )
    assert messages_of(moved) == ["Moved Desk notification up."]
    order = NotificationRule.objects.filter(user=me).order_by("position")
    assert [r.pk for r in order] == [desk_rule.pk, email.pk]

    deleted = desk.post(f"/desk/notifications/rules/{email.pk}/delete/", follow=True)
    assert messages_of(deleted) == ["Removed the rule Email after 0 min."]
    assert list(NotificationRule.objects.filter(user=me)) == [desk_rule]


def test_another_persons_rules_and_contacts_are_not_found_and_unchanged(desk, theirs):
    before = snapshot()
    rule, method = theirs["rule"], theirs["method"]

    for path, data in [
        (f"/desk/notifications/rules/{rule.pk}/move/", {"direction": "down"}),
        (f"/desk/notifications/rules/{rule.pk}/delete/", {}),
        (f"/desk/notifications/contacts/{method.pk}/delete/", {}),
    ]:
        assert desk.post(path, data).status_code == 404, path

    assert snapshot() == before


# ---------------------------------------------------------------- contact methods


def test_adding_a_contact_method_says_so(desk, me):
    response = desk.post(
        "/desk/notifications/contacts/add/",
        {"contact-kind": "sms", "contact-address": "+4915112345678", "contact-label": "work"},
        follow=True,
    )

    assert messages_of(response) == ["Added SMS: work."]
    assert list(me.contact_methods.values_list("kind", "address")) == [("sms", "+4915112345678")]


@pytest.mark.parametrize(
    ("kind", "address", "error"),
    [
        ("sms", "0151 1234", "Enter the number in international (E.164) form, e.g. +4915112345678."),
        ("webhook", "http://hooks.example/x", "The URL must start with https://."),
        ("email", "me@", "Enter a valid email address."),
    ],
)  # fmt: skip
def test_a_bad_address_is_shown_beside_its_field_and_nothing_saved(desk, me, kind, address, error):
    response = desk.post(
        "/desk/notifications/contacts/add/", {"contact-kind": kind, "contact-address": address}
    )

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "contact-address") == [error]
    assert not ContactMethod.objects.exists()


def test_deleting_a_contact_method_says_so(desk, me):
    method = ContactMethodFactory.create(user=me, kind="sms", address="+4915112345678")

    response = desk.post(f"/desk/notifications/contacts/{method.pk}/delete/", follow=True)

    assert messages_of(response) == ["Removed SMS: +4915112345678."]
    assert not ContactMethod.objects.exists()


def test_the_test_notification_follows_my_rules(desk, me):
    RuleFactory.create(user=me, importance="important", position=0, channel="desk")

    response = desk.post("/desk/notifications/test/", {"importance": "important"}, follow=True)

    assert messages_of(response) == ["A test notification is on its way: Desk notification."]
    notification = Notification.objects.get(recipient=me)
    assert (notification.source, notification.importance) == ("test", "important")
    assert DeskNotification.objects.filter(user=me).count() == 1


# ---------------------------------------------------------------- desk notifications


def make_entries(user, count: int, prefix: str = "n") -> None:
    for n in range(count):
        notify(
            recipient=user, subject=f"Page {n}", body="503", key=f"{prefix}{n}",
            actions={"Acknowledge": f"https://desk.example/ack/{n}"},
        )  # fmt: skip


def test_my_notifications_newest_first_and_not_theirs(desk, me, theirs, django_assert_num_queries):
    make_entries(me, 3)

    # session, user, the page's count, the entries with their notifications
    with django_assert_num_queries(4):
        response = desk.get("/desk/notifications/")

    html = response.content.decode()
    assert re.findall(r"<strong>(Page \d)</strong>", html) == ["Page 2", "Page 1", "Page 0"]
    assert "Their page" not in html
    assert html.count('<span class="badge">New</span>') == 3
    assert '<a href="https://desk.example/ack/2">Acknowledge</a>' in html


def test_the_notifications_page_query_count_stays_flat(desk, me, django_assert_num_queries):
    make_entries(me, 30)

    with django_assert_num_queries(4):
        assert desk.get("/desk/notifications/").status_code == 200


def test_marking_one_and_then_all_read(desk, me):
    make_entries(me, 3)
    first = DeskNotification.objects.filter(user=me).earliest("id")

    one = desk.post("/desk/notifications/read/", {"entry": first.pk}, follow=True)
    assert messages_of(one) == ["Marked read."]
    assert list(DeskNotification.objects.filter(user=me, read_at__isnull=False)) == [first]

    everything = desk.post("/desk/notifications/read/", follow=True)
    assert messages_of(everything) == ["Marked 2 notifications read."]
    assert not DeskNotification.objects.filter(user=me, read_at__isnull=True).exists()


def test_marking_someone_elses_notification_read_is_not_found(desk, theirs):
    before = snapshot()

    assert desk.post("/desk/notifications/read/", {"entry": theirs["entry"].pk}).status_code == 404
    desk.post("/desk/notifications/read/")  # all of mine: none

    assert snapshot() == before


def test_the_header_badge_counts_my_unread_in_one_query(
    desk, me, theirs, django_assert_num_queries
):
    make_entries(me, 3)
    DeskNotification.objects.filter(user=me).earliest("id").delete()

    # session, user, the count
    with django_assert_num_queries(3):
        response = desk.get("/desk/notifications/badge/", HTTP_HX_REQUEST="true")

    assert response.content.decode().strip() == '<span class="badge" aria-label="2 unread">2</span>'
    desk.post("/desk/notifications/read/")
    assert desk.get("/desk/notifications/badge/").content.decode().strip() == ""


def test_every_desk_page_has_the_notifications_link_and_the_rules_in_the_user_menu(desk):
    html = desk.get("/desk/notifications/").content.decode()

    assert 'hx-get="/desk/notifications/badge/" hx-trigger="load, every 60s"' in html
    assert '<a href="/desk/notifications/rules/">My notification rules</a>' in html


# ---------------------------------------------------------------- access


def every_url(theirs):
    rule, method, entry = theirs["rule"], theirs["method"], theirs["entry"]
    return [
        ("get", "/desk/notifications/", {}),
        ("get", "/desk/notifications/badge/", {}),
        ("post", "/desk/notifications/read/", {}),
        ("post", "/desk/notifications/read/", {"entry": entry.pk}),
        ("get", "/desk/notifications/rules/", {}),
        ("post", "/desk/notifications/rules/add/",
         {"rule-importance": "default", "rule-channel": "email", "rule-delay_minutes": "0"}),
        ("post", f"/desk/notifications/rules/{rule.pk}/move/", {"direction": "up"}),
        ("post", f"/desk/notifications/rules/{rule.pk}/delete/", {}),
        ("post", "/desk/notifications/contacts/add/",
         {"contact-kind": "sms", "contact-address": "+4915112345678"}),
        ("post", f"/desk/notifications/contacts/{method.pk}/delete/", {}),
        ("post", "/desk/notifications/test/", {"importance": "default"}),
    ]  # fmt: skip


def test_someone_who_is_not_staff_gets_404_everywhere_and_nothing_changes(client, theirs):
    client.force_login(UserFactory.create())
    before = snapshot()

    for method, path, data in every_url(theirs):
        assert getattr(client, method)(path, data).status_code == 404, path

    assert snapshot() == before


def test_anonymous_visitors_are_sent_to_log_in(client, theirs):
    before = snapshot()

    for method, path, data in every_url(theirs):
        response = getattr(client, method)(path, data)
        assert (response.status_code, response.url.split("?")[0]) == (302, "/accounts/login/"), path

    assert snapshot() == before
