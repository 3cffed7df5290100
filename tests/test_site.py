"""The pages around the API: health, schema, docs, admin."""

import io

import pytest
from django.core.management import call_command

from communities.models import Membership
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory, UserFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def test_the_suite_runs_on_the_test_settings(settings):
    assert settings.SETTINGS_MODULE == "supportdesk.settings.test"
    assert "virtual_host=0" not in settings.CELERY_BROKER_URL
    assert not settings.CELERY_BROKER_URL.endswith("/0")


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_the_openapi_schema_is_complete_and_valid():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/api/v1/tickets/{reference}/transitions/" in out.getvalue()


def test_the_api_docs_are_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content
    assert b"cdn.jsdelivr.net" not in response.content


@pytest.fixture
def admin_client_(client):
    admin = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client, admin


@pytest.mark.parametrize(
    "path",
    [
        "/admin/", "/admin/core/user/", "/admin/core/event/", "/admin/core/eventdelivery/",
        "/admin/communities/community/", "/admin/communities/membership/",
        "/admin/communities/serviceplan/", "/admin/communities/supportbudget/",
        "/admin/communities/timeentry/", "/admin/tickets/ticket/", "/admin/tickets/message/",
        "/admin/tickets/category/", "/admin/tickets/attachment/", "/admin/tickets/ticketevent/",
        "/admin/tickets/ticket/add/", "/admin/communities/membership/add/", "/admin/core/user/add/",
    ],
)  # fmt: skip
def test_every_admin_page_renders(admin_client_, path):
    client, _ = admin_client_
    TicketFactory.create()
    assert client.get(path).status_code == 200


def test_the_admin_opens_tickets_through_the_service(admin_client_):
    client, admin = admin_client_
    community = CommunityFactory.create()
    member = MembershipFactory.create(community=community, role="member").user

    response = client.post(
        "/admin/tickets/ticket/add/",
        {
            "community": community.pk, "requester": member.pk, "subject": "From the phone",
            "description": "Called in", "kind": "question", "severity": "low",
        },
    )  # fmt: skip

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.channel, ticket.requester) == (
        "awaiting_approval",
        "desk",
        member,
    )
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert TicketEvent.objects.get(ticket=ticket).actor == admin
    assert response["Location"] == "/admin/tickets/ticket/"


def test_the_admin_refuses_a_requester_from_another_community(admin_client_):
    client, _ = admin_client_
    community = CommunityFactory.create()
    outsider = MembershipFactory.create().user

    response = client.post(
        "/admin/tickets/ticket/add/",
        {"community": community.pk, "requester": outsider.pk, "subject": "x", "description": "y",
         "kind": "question", "severity": "low"},
    )  # fmt: skip

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "requester": [f"{outsider} is not a member of {community}."]
    }
    assert not Ticket.objects.exists()


def test_admin_field_changes_go_through_the_service_and_are_audited(admin_client_):
    client, admin = admin_client_
    ticket = TicketFactory.create(severity="low", status="open")
    agent = AgentFactory.create()

    response = client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        {
            "subject": ticket.subject, "description": ticket.description, "kind": ticket.kind,
            "severity": "high", "tier": ticket.tier, "category": "", "tags": "", "assignee": agent.pk,
            "messages-TOTAL_FORMS": 0, "messages-INITIAL_FORMS": 0,
            "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0,
        },
    )  # fmt: skip

    assert response.status_code == 302, response.content[:2000]
    ticket.refresh_from_db()
    assert (ticket.severity, ticket.assignee, ticket.status) == ("high", agent, "assigned")
    assert TicketEvent.objects.get(ticket=ticket, kind="updated").data == {
        "changes": {"severity": ["low", "high"]}
    }


def test_admin_transition_actions_apply_what_they_can_and_say_what_they_cannot(admin_client_):
    client, _ = admin_client_
    working = TicketFactory.create(status="in_progress")
    closed = TicketFactory.create(status="closed")

    response = client.post(
        "/admin/tickets/ticket/",
        {"action": "transition_resolve", "_selected_action": [working.pk, closed.pk]},
        follow=True,
    )

    working.refresh_from_db()
    closed.refresh_from_db()
    assert (working.status, closed.status) == ("resolved", "closed")
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Resolve: 1 ticket(s).",
        f"{closed.reference}: Cannot resolve a ticket that is closed.",
    ]


def test_the_admin_adds_a_membership_once(admin_client_):
    client, _ = admin_client_
    community = CommunityFactory.create()
    person = UserFactory.create()
    form = {"user": person.pk, "community": community.pk, "role": "representative"}

    first = client.post("/admin/communities/membership/add/", form)
    second = client.post("/admin/communities/membership/add/", form)

    assert first.status_code == 302
    assert second.status_code == 200
    assert "already exists" in second.content.decode()
    assert Membership.objects.filter(user=person).count() == 1
