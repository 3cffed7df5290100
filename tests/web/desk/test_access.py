"""The desk is for agents: anyone else signed in gets 404 and changes nothing; anonymous
visitors are sent to the login page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from incidents.notify.models import ContactMethod, DeskNotification, NotificationRule
from incidents.notify.services import contact_method_create, notify, rule_create
from incidents.oncall.models import HandoffNote, Override
from incidents.paging.models import Page, PageEvent
from incidents.paging.services.pages import trigger_page
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.mail.mime import raw_mail
from tests.oncall.factories import ScheduleFactory
from tests.web.desk.conftest import open_ticket, snapshot
from tickets.mail.services import mail_intake
from tickets.services.relations import ticket_link_add
from web.desk.presence import presence_touch
from web.desk.services import saved_filter_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(agent):
    """Two tickets of one community, linked, and an agent's saved filter; a page, an
    on-call schedule with a handoff note, and the agent's notification rules."""
    ticket = open_ticket(subject="Pods pending")
    other = open_ticket(ticket.community, subject="Pods pending too")
    unlinked = open_ticket(ticket.community, subject="Quota")
    ticket_link_add(ticket=ticket, other=other, actor=agent)
    saved = saved_filter_create(owner=agent, name="Mine", params={"assignee": "me"})
    page = trigger_page(
        cause="integration", dedup_key="disk-full", title="Disk full", details="",
        severity="high", via="api",
    )  # fmt: skip
    schedule = ScheduleFactory.create(name="Primary")
    note = HandoffNote.objects.create(
        schedule=schedule, handoff_at=timezone.now(), outgoing=agent, incoming=agent,
        follow_ups="Renew the certificate.", written_by=agent,
    )  # fmt: skip
    rule = rule_create(user=agent, importance="default", channel="email", delay_minutes=0)
    method = contact_method_create(user=agent, kind="sms", address="+4915112345678")
    notify(recipient=agent, subject="Hello", body="", key="access-test", source="test")
    held = mail_intake(raw_mail(sender="stranger@example.net"), source="command")
    return {
        "ticket": ticket, "other": other, "unlinked": unlinked, "saved": saved, "page": page,
        "schedule": schedule, "note": note, "rule": rule, "method": method, "held": held,
    }  # fmt: skip


def _requests(world, agent):
    """Every desk URL, with what a successful request would send."""
    t, other, unlinked = world["ticket"], world["other"], world["unlinked"]
    base = f"/desk/tickets/{t.reference}"
    return [
        ("get", "/desk/", {}),
        ("get", "/desk/rail/", {}),
        ("post", "/desk/bulk/", {"tickets": [t.pk], "action": "assign", "assignee": agent.pk}),
        ("post", "/desk/filters/?status=new", {"name": "New ones"}),
        ("post", f"/desk/filters/{world['saved'].pk}/delete/", {}),
        ("get", f"{base}/", {}),
        ("get", f"{base}/?tab=history", {}),
        ("get", f"{base}/composer/", {}),
        ("get", f"{base}/presence/", {}),
        ("post", f"{base}/reply/", {"body": "Hello", "kind": "public"}),
        ("post", f"{base}/transition/", {"transition": "resolve"}),
        ("post", f"{base}/assign/", {"assignee": agent.pk}),
        ("post", f"{base}/fields/", {"severity": "high", "tier": "expert", "reason": "x"}),
        ("post", f"{base}/tags/", {"tags": "gpu"}),
        ("post", f"{base}/time/", {"minutes": 30}),
        ("post", f"{base}/links/", {"other": unlinked.reference}),
        ("post", f"{base}/links/remove/", {"other": other.reference}),
        ("get", f"{base}/merge/", {"target": other.reference}),
        ("post", f"{base}/merge/", {"target": other.reference}),
        ("post", f"{base}/reroute/", {}),
        ("post", f"{base}/escalate/", {"direction": "up", "reason": "Needs an expert"}),
        *_mail_requests(world),
        *_on_call_requests(world, agent),
    ]


def _mail_requests(world):
    """Held mail from unknown senders."""
    held, community = world["held"], world["ticket"].community
    return [
        ("get", "/desk/mail/held/", {}),
        ("get", f"/desk/mail/held/{held.pk}/", {}),
        ("post", f"/desk/mail/held/{held.pk}/attach/", {"community": community.pk}),
        ("post", f"/desk/mail/held/{held.pk}/discard/", {}),
    ]


def _on_call_requests(world, agent):
    """Notifications, pages and on-call schedules."""
    rule, method, page = world["rule"], world["method"], world["page"]
    schedule, note = world["schedule"], world["note"]
    now = timezone.now()
    return [
        ("get", "/desk/notifications/", {}),
        ("post", "/desk/notifications/read/", {}),
        ("get", "/desk/notifications/badge/", {}),
        ("get", "/desk/notifications/rules/", {}),
        ("post", "/desk/notifications/rules/add/",
         {"rule-importance": "default", "rule-channel": "desk", "rule-delay_minutes": "2"}),
        ("post", f"/desk/notifications/rules/{rule.pk}/move/", {"direction": "down"}),
        ("post", f"/desk/notifications/rules/{rule.pk}/delete/", {}),
        ("post", "/desk/notifications/contacts/add/",
         {"contact-kind": "email", "contact-address": "pager@example.org"}),
        ("post", f"/desk/notifications/contacts/{method.pk}/delete/", {}),
        ("post", "/desk/notifications/test/", {"importance": "important"}),
        ("get", "/desk/pages/", {}),
        ("get", "/desk/pages/count/", {}),
        ("get", "/desk/pages/figures/", {}),
        ("get", f"/desk/pages/{page.pk}/", {}),
        ("post", f"/desk/pages/{page.pk}/acknowledge/", {}),
        ("post", f"/desk/pages/{page.pk}/unacknowledge/", {}),
        ("post", f"/desk/pages/{page.pk}/resolve/", {}),
        ("post", f"/desk/pages/{page.pk}/silence/", {"minutes": 30}),
        ("get", "/desk/oncall/", {}),
        ("get", f"/desk/oncall/schedules/{schedule.pk}/", {}),
        ("post", "/desk/oncall/cover/",
         {"schedule": schedule.pk, "colleague": agent.pk, "reason": "Dentist",
          "start": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
          "end": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}),
        ("post", f"/desk/oncall/schedules/{schedule.pk}/handoff/?at={now.isoformat()}",
         {"follow_ups": "Renew the certificate."}),
        ("post", f"/desk/oncall/handoffs/{note.pk}/acknowledge/", {}),
        *_report_requests(world),
        *_incident_requests(world, agent),
        *_kb_search_requests(),
        *_kb_requests(world, agent),
    ]  # fmt: skip


def _report_requests(world):
    """Reports: the dashboards, an export, the drill-down and the funding flag."""
    return [
        ("get", "/desk/reports/", {}),
        ("get", "/desk/reports/tickets/?metric=volume", {}),
        ("get", "/desk/reports/support/", {}),
        ("get", "/desk/reports/support/figures.csv", {}),
        ("post", f"/desk/tickets/{world['ticket'].reference}/funding/", {"funded": "1"}),
    ]


def _incident_requests(world, agent):
    """Incidents: the list, declaring, an incident and its actions, action items, uptime."""
    from incidents.services.lifecycle import incident_declare
    from incidents.services.postmortems import action_item_add

    incident = incident_declare(
        actor=agent,
        title="Hub down",
        severity="SEV2",
        tickets=[world["ticket"]],
        maintenance=True,
    )
    item = action_item_add(incident=incident, actor=agent, title="Alert", owner=agent)
    base = f"/desk/incidents/{incident.pk}"
    return [
        ("get", "/desk/incidents/", {}),
        ("post", "/desk/incidents/declare/", {"title": "Down", "severity": "SEV1"}),
        ("get", "/desk/incidents/action-items/", {}),
        ("post", f"/desk/incidents/action-items/{item.pk}/", {"status": "done"}),
        ("get", "/desk/incidents/uptime/", {}),
        ("get", f"{base}/", {}),
        ("post", f"{base}/update/", {"status": "identified", "body": "Found it."}),
        ("post", f"{base}/transition/", {"status": "monitoring"}),
        ("post", f"{base}/fields/", {"title": "Renamed", "severity": "SEV1"}),
        ("post", f"{base}/role/", {"role": "technical_lead", "user": agent.pk}),
        ("post", f"{base}/link/", {"ticket": world["other"].reference}),
        ("post", f"{base}/component/", {"component": "1", "degree": "degraded"}),
        ("post", f"{base}/note/", {"text": "A note"}),
        ("post", f"{base}/postmortem/", {"summary": "Why"}),
        ("post", f"{base}/action-items/", {"title": "More", "owner": agent.pk}),
    ]  # fmt: skip


def _kb_requests(world, agent):
    """The knowledge base: list, review queue, editor, an article, its workflow and history,
    and the ticket page's panel and "create an article from this ticket"."""
    from tests.knowledgebase.factories import ArticleFactory

    article = ArticleFactory.create(status="in_review", author=AgentFactory.create())
    a, base = f"/desk/kb/{article.pk}", f"/desk/tickets/{world['ticket'].reference}"
    edit = {"title": "Mine", "body": "b", "kind": "faq", "audience": "public"}
    return [
        ("get", "/desk/kb/", {}),
        ("get", "/desk/kb/review/", {}),
        ("get", "/desk/kb/new/", {}),
        ("get", f"{a}/", {}),
        ("post", f"{a}/edit/", edit),
        ("post", f"{a}/transition/", {"transition": "approve"}),
        ("post", f"{a}/reviewed/", {}),
        ("get", f"{a}/history/", {}),
        ("post", f"{a}/restore/", {"version": article.history.get().history_id}),
        ("get", f"{base}/kb/", {}),
        ("post", f"{base}/kb/article/", {}),
    ]


def _kb_search_requests():
    """The knowledge base's search analytics."""
    return [("get", "/desk/kb/analytics/", {})]


URL_COUNT = 80


def test_every_desk_url_is_listed_here():
    from web.desk.urls import urlpatterns

    # One request per URL pattern, plus the history tab and the GET and POST of merge.
    assert len(urlpatterns) + 2 == URL_COUNT


@pytest.mark.parametrize("index", range(URL_COUNT))
@pytest.mark.parametrize("role", ["member", "representative", "requester"])
def test_people_who_are_not_agents_get_404_and_change_nothing(client, agent, world, index, role):
    ticket = world["ticket"]
    if role == "requester":
        person = ticket.requester
    else:
        person = MembershipFactory.create(community=ticket.community, role=role).user
    method, url, data = _requests(world, agent)[index]
    client.force_login(person)
    before = snapshot(), on_call_snapshot()

    response = getattr(client, method)(url, data)

    assert response.status_code == 404
    assert (snapshot(), on_call_snapshot()) == before
    assert presence_touch(ticket_id=ticket.pk, user=agent) == []


@pytest.mark.parametrize("index", range(URL_COUNT))
def test_anonymous_visitors_are_sent_to_the_login_page(client, agent, world, index):
    method, url, data = _requests(world, agent)[index]
    before = snapshot(), on_call_snapshot()

    response = getattr(client, method)(url, data)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/desk/")
    assert (snapshot(), on_call_snapshot()) == before


def on_call_snapshot():
    """What the notification, page and on-call requests could change."""
    return (
        list(Page.objects.order_by("pk").values_list("pk", "state", "silenced_until")),
        PageEvent.objects.count(),
        list(NotificationRule.objects.order_by("pk").values_list("pk", "position")),
        ContactMethod.objects.count(),
        list(DeskNotification.objects.order_by("pk").values_list("pk", "read_at")),
        Override.objects.count(),
        list(HandoffNote.objects.order_by("pk").values_list("pk", "follow_ups", "acknowledged_at")),
    )


def test_a_deactivated_agent_is_signed_out_of_the_desk(client, world):
    former = AgentFactory.create()
    client.force_login(former)
    former.is_active = False
    former.save(update_fields=["is_active"])

    response = client.get("/desk/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/desk/")


@pytest.mark.parametrize(
    "path",
    ["/desk/", "/desk/rail/", "/desk/?queue=mine&sort=-severity", "/desk/?status=new&q=pods",
     "TICKET/", "TICKET/?tab=history", "TICKET/presence/", "TICKET/merge/?target=OTHER"],
)  # fmt: skip
def test_every_desk_page_renders_for_an_agent(desk, world, path):
    path = path.replace("TICKET", f"/desk/tickets/{world['ticket'].reference}")
    path = path.replace("OTHER", world["other"].reference)

    response = desk.get(path)

    assert response.status_code == 200


def test_a_ticket_that_does_not_exist_is_404_for_an_agent(desk):
    assert desk.get("/desk/tickets/SD-999999/").status_code == 404
    assert desk.get("/desk/tickets/nonsense/reply/").status_code == 405
    assert desk.post("/desk/tickets/nonsense/reply/", {"body": "x"}).status_code == 404


@pytest.fixture(autouse=True)
def _forget_presence():
    cache.clear()
    yield
    cache.clear()
