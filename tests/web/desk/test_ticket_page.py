"""The desk's ticket page: the conversation, the composer, the actions and the panels."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from communities.models import TimeEntry
from tests.communities.factories import CommunityFactory, SupportBudgetFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import MessageFactory, TicketFactory
from tests.web.desk.conftest import field_errors, open_ticket, png, snapshot
from tickets.models import (
    Attachment,
    Macro,
    Message,
    SatisfactionRating,
    Ticket,
    TicketEvent,
    TicketLink,
)
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_update
from tickets.services.macros import macro_create
from web.desk import selectors as desk_selectors
from web.desk.panels import Panel
from web.desk.selectors import agents_listed

pytestmark = pytest.mark.django_db


def page(desk, ticket, query: str = "") -> str:
    response = desk.get(f"/desk/tickets/{ticket.reference}/{query}")
    assert response.status_code == 200
    return str(response.content.decode())


def post(desk, ticket, action: str, data: dict[str, object], **extra):
    return desk.post(f"/desk/tickets/{ticket.reference}/{action}/", data, **extra)


def notices(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def composer_text(html: str) -> str:
    match = re.search(
        r'<textarea name="body"[^>]*id="composer_body"[^>]*>\n?(.*?)</textarea>', html, re.S
    )
    assert match, "no composer on the page"
    return html_lib.unescape(match.group(1))


def offered(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="transition" value="(\w+)"', html)


@pytest.fixture
def ticket():
    return open_ticket(subject="Pods stuck in pending")


# ---------------------------------------------------------------- the page


def test_the_header_shows_the_community_its_plan_and_the_hours_left(desk, agent):
    community = CommunityFactory.create(name="GPU users", service_plan__name="Gold")
    SupportBudgetFactory.create(community=community, hours=Decimal("10.00"))
    ticket = open_ticket(community, severity="high")
    TimeEntry.objects.create(ticket=ticket, community=community, agent=agent, minutes=90)

    html = page(desk, ticket)

    assert 'GPU users <span class="muted">· Gold plan</span>' in html
    assert '<dd class="hours-left">8.50 h of 10.00 h this month</dd>' in html
    assert '<span class="badge badge-severity-high">High (P2)</span>' in html
    assert '<span class="badge badge-status-new">New</span>' in html
    assert f"<dd>{ticket.requester.display_name}</dd>" in html


def test_public_replies_and_internal_notes_look_different_and_say_so(desk, agent, ticket):
    MessageFactory.create(ticket=ticket, author=agent, kind="internal", body="Check the **quota**")
    MessageFactory.create(ticket=ticket, author=agent, body="We are on it")

    html = page(desk, ticket)

    cards = re.findall(r'<li id="message-\d+" class="([^"]+)">', html)
    assert cards == ["message-card", "message-card internal from-agent", "message-card from-agent"]
    assert '<span class="badge badge-internal">Internal note</span>' in html
    assert "<p>Check the <strong>quota</strong></p>" in html


def test_message_bodies_are_sanitised(desk, agent, ticket):
    MessageFactory.create(ticket=ticket, body="<script>alert(1)</script> [x](javascript:alert(1))")

    html = page(desk, ticket)

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html


# ---------------------------------------------------------------- the composer


def test_an_agent_replies_and_the_first_response_is_recorded(desk, agent, ticket):
    response = post(desk, ticket, "reply", {"body": "Hello **there**", "kind": "public"})

    assert (response.status_code, response["Location"]) == (
        302,
        f"/desk/tickets/{ticket.reference}/",
    )
    assert notices(response) == ["Reply sent."]
    message = Message.objects.get(author=agent)
    assert (message.kind, message.channel, message.body) == ("public", "desk", "Hello **there**")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == message.created_at
    assert "<p>Hello <strong>there</strong></p>" in page(desk, ticket)


def test_an_internal_note_is_not_a_response(desk, agent, ticket):
    response = post(
        desk, ticket, "reply", {"body": "Looks like the old cluster", "kind": "internal"}
    )

    assert notices(response) == ["Internal note added."]
    assert Message.objects.get(author=agent).kind == "internal"
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None
    assert "message-card internal from-agent" in page(desk, ticket)


def test_a_reply_carries_files_linked_to_the_checked_download(desk, agent, ticket):
    response = post(
        desk,
        ticket,
        "reply",
        {
            "body": "Screenshot attached",
            "kind": "public",
            "attachments": [png("a.png"), png("b.png")],
        },
    )

    assert response.status_code == 302
    files = list(Attachment.objects.filter(message__author=agent).order_by("pk"))
    assert [f.filename for f in files] == ["a.png", "b.png"]
    html = page(desk, ticket)
    assert f'<a href="/api/v1/attachments/{files[0].pk}/download/">a.png</a>' in html
    assert desk.get(f"/api/v1/attachments/{files[0].pk}/download/").status_code == 200


def test_an_empty_reply_is_refused_beside_the_field(desk, ticket):
    before = snapshot()

    response = post(desk, ticket, "reply", {"body": "   ", "kind": "public"})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "composer_body") == [
        "This field may not be blank."
    ]
    assert snapshot() == before


def test_a_refused_file_keeps_the_draft_and_saves_nothing(desk, ticket):
    before = snapshot()
    program = SimpleUploadedFile("tool.bin", b"\x7fELF\x02\x01\x01" + b"\0" * 100)

    response = post(
        desk, ticket, "reply", {"body": "See the tool", "kind": "public", "attachments": [program]}
    )

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "composer_attachments") == [
        "Files of type application/x-executable are not accepted."
    ]
    assert composer_text(response.content.decode()) == "See the tool"
    assert snapshot() == before


def test_an_htmx_reply_answers_with_the_conversation_and_a_fresh_composer(desk, agent, ticket):
    response = post(
        desk, ticket, "reply", {"body": "On it", "kind": "public"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<section id="thread"')
    assert "<html" not in html
    assert '<p class="message message-success" role="status">Reply sent.</p>' in html
    assert "<p>On it</p>" in html
    assert composer_text(html) == ""
    newest = TicketEvent.objects.filter(ticket=ticket).latest("pk").pk
    assert f'<input type="hidden" name="seen_event_id" value="{newest}">' in html


def test_an_htmx_reply_that_is_refused_shows_the_error_in_the_partial(desk, ticket):
    before = snapshot()

    response = post(desk, ticket, "reply", {"body": "", "kind": "public"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert html.strip().startswith('<section id="thread"')
    assert field_errors(html, "composer_body") == ["This field may not be blank."]
    assert snapshot() == before


# ---------------------------------------------------------------- canned responses


@pytest.fixture
def macro(agent):
    return macro_create(
        name="Greeting",
        body="Hi {{ requester.first_name }}, about {{ ticket.reference }}: — {{ agent.first_name }}",
    )


def _filled(ticket, agent) -> str:
    first = ticket.requester.first_name or ticket.requester.display_name
    return f"Hi {first}, about {ticket.reference}: — {agent.first_name}"


def test_a_canned_response_fills_the_composer_without_javascript(desk, agent, ticket, macro):
    html = page(desk, ticket, f"?macro={macro.pk}")

    assert composer_text(html) == _filled(ticket, agent)
    assert f'<option value="{macro.pk}" selected>Greeting</option>' in html


def test_a_canned_response_fills_the_composer_through_htmx_after_the_draft(
    desk, agent, ticket, macro
):
    response = desk.get(
        f"/desk/tickets/{ticket.reference}/composer/",
        {"macro": macro.pk, "body": "Thanks for the logs.", "seen_event_id": 7},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert html.strip().startswith('<div id="composer"')
    assert composer_text(html) == f"Thanks for the logs.\n\n{_filled(ticket, agent)}"
    assert '<input type="hidden" name="seen_event_id" value="7">' in html


def test_an_internal_canned_response_chooses_the_internal_note(desk, agent, ticket):
    note = macro_create(
        name="Escalation note", body="Escalating: {{ community.name }}", kind="internal"
    )

    html = page(desk, ticket, f"?macro={note.pk}")

    assert composer_text(html) == f"Escalating: {ticket.community.name}"
    assert re.search(r'<input type="radio" name="kind" value="internal"[^>]*checked', html)


def test_only_active_macros_that_are_shared_or_mine_are_offered(desk, agent, ticket, macro):
    mine = macro_create(name="Mine", body="x", owner=agent)
    theirs = macro_create(name="Theirs", body="y", owner=AgentFactory.create())
    macro_create(name="Retired", body="z", active=False)

    html = page(desk, ticket, f"?macro={theirs.pk}")

    assert re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', html.split('id="macro_macro"')[1].split("</select>")[0]) == [
        "Greeting", "Mine"
    ]  # fmt: skip
    assert field_errors(html, "macro_macro") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert composer_text(html) == ""
    assert Macro.objects.filter(pk=mine.pk).exists()


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("status", "assigned", "expected"),
    [
        ("new", False, ["accept", "start_work", "wait_on_customer", "resolve", "close"]),
        ("awaiting_approval", False, ["approve", "decline"]),
        ("assigned", True, ["start_work", "wait_on_customer", "plan", "resolve", "close"]),
        ("in_progress", True, ["wait_on_customer", "plan", "resolve", "close"]),
        ("waiting_on_customer", False, ["plan", "resume", "resolve", "close"]),
        ("resolved", True, ["close", "reopen"]),
        ("closed", False, ["reopen"]),
    ],
)
def test_the_action_bar_offers_the_transitions_legal_now(desk, agent, status, assigned, expected):
    ticket = TicketFactory.create(status=status, assignee=agent if assigned else None)

    assert offered(page(desk, ticket)) == expected


def test_a_transition_that_needs_a_reason_has_a_field_for_it(desk):
    ticket = TicketFactory.create(status="awaiting_approval")

    html = page(desk, ticket)

    assert '<label for="note-decline">Reason (sent to the requester)</label>' in html
    assert 'id="note-approve"' not in html


def test_an_agent_resolves_a_ticket(desk, agent, ticket):
    response = post(desk, ticket, "transition", {"transition": "resolve"})

    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert notices(response) == [f"Resolve: {ticket.reference} is now resolved."]
    assert TicketEvent.objects.filter(kind="status_changed", actor=agent).count() == 1


def test_declining_without_a_reason_is_refused_beside_the_reason(desk):
    ticket = TicketFactory.create(status="awaiting_approval")
    before = snapshot()

    response = post(desk, ticket, "transition", {"transition": "decline", "note": " "})

    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'<details class="reason-action" open>\s*<summary>Decline…</summary>', html)
    assert '<small class="error" role="alert">Say why, for the requester.</small>' in html
    assert snapshot() == before


def test_a_transition_that_is_not_legal_now_is_refused_and_changes_nothing(desk, ticket):
    before = snapshot()

    response = post(desk, ticket, "transition", {"transition": "reopen"})

    assert response.status_code == 400
    assert re.search(
        r'<div class="form-errors" role="alert">\s*<p>Cannot reopen a ticket that is new.</p>',
        response.content.decode(),
    )
    assert snapshot() == before


def test_an_unknown_transition_is_refused(desk, ticket):
    before = snapshot()

    response = post(desk, ticket, "transition", {"transition": "explode"})

    assert response.status_code == 400
    assert (
        "Select a valid choice. explode is not one of the available choices."
        in response.content.decode()
    )
    assert snapshot() == before


# ---------------------------------------------------------------- assignee, severity, tier, tags


def test_an_agent_assigns_the_ticket_to_a_colleague_then_to_themself(desk, agent, ticket):
    colleague = AgentFactory.create()

    first = post(desk, ticket, "assign", {"assignee": colleague.pk})
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (colleague, "assigned")
    assert notices(first) == [f"Assigned to {colleague.display_name}."]
    assert '<button type="submit">Assign to me</button>' in page(desk, ticket)

    post(desk, ticket, "assign", {"assignee": agent.pk})
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert "Assign to me" not in page(desk, ticket)

    post(desk, ticket, "assign", {"assignee": ""})
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (None, "open")


@pytest.mark.parametrize("who", ["unknown", "member"])
def test_assigning_to_someone_who_is_not_an_agent_is_refused_beside_the_field(desk, ticket, who):
    assignee = 999999 if who == "unknown" else ticket.requester.pk
    before = snapshot()

    response = post(desk, ticket, "assign", {"assignee": assignee})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "assign_assignee") == [
        "Choose one of the agents listed."
    ]
    assert snapshot() == before


def test_the_agents_offered_are_kept_a_few_seconds_but_a_post_checks_them_afresh(
    desk, ticket, settings, monkeypatch, django_assert_num_queries
):
    settings.DESK_AGENT_LIST_SECONDS = 10
    monkeypatch.setattr(desk_selectors, "_agents_read", (float("-inf"), []))
    colleague = AgentFactory.create(first_name="Kim", last_name="Lund")
    option = f'<option value="{colleague.pk}">Kim Lund</option>'
    assert option in page(desk, ticket)
    with django_assert_num_queries(0):
        agents_listed()

    colleague.is_active = False
    colleague.save()
    still_offered = page(desk, ticket)
    response = post(desk, ticket, "assign", {"assignee": colleague.pk})

    assert option in still_offered
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "assign_assignee") == [
        "Choose one of the agents listed."
    ]


def test_a_severity_change_keeps_its_reason_in_the_history(desk, agent, ticket):
    response = post(
        desk,
        ticket,
        "fields",
        {"severity": "critical", "tier": "emergency", "reason": "Whole cluster down"},
    )

    ticket.refresh_from_db()
    assert (ticket.severity, ticket.tier) == ("critical", "emergency")
    assert notices(response) == ["Severity and tier saved."]
    assert TicketEvent.objects.get(kind="updated").data == {
        "changes": {"severity": ["medium", "critical"], "tier": ["self_service", "emergency"]},
        "reason": "Whole cluster down",
    }
    history = page(desk, ticket, "?tab=history")
    assert (
        f"<strong>{agent.display_name}</strong> changed severity: Medium (P3) → Critical (P1); "
        'tier: Self service → Emergency <span class="detail">“Whole cluster down”</span>'
    ) in history


def test_a_severity_change_without_a_reason_is_refused(desk, ticket):
    before = snapshot()

    response = post(
        desk, ticket, "fields", {"severity": "critical", "tier": "self_service", "reason": ""}
    )

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "fields_reason") == ["This field is required."]
    assert snapshot() == before


def test_tags_are_saved_and_link_to_the_queue(desk, ticket):
    post(desk, ticket, "tags", {"tags": "GPU, summer school,  ,gpu"})

    ticket.refresh_from_db()
    assert ticket.tags == ["gpu", "summer-school"]
    html = page(desk, ticket)
    assert '<a href="/desk/?tag=gpu" class="tag">gpu</a>' in html
    assert '<a href="/desk/?tag=summer-school" class="tag">summer-school</a>' in html
    assert 'value="gpu, summer-school"' in html


def test_a_tag_that_is_too_long_is_refused_beside_the_field(desk, ticket):
    before = snapshot()

    response = post(desk, ticket, "tags", {"tags": "x" * 51})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "tags_tags") == [
        "A tag has at most 50 characters."
    ]
    assert snapshot() == before


# ---------------------------------------------------------------- time


def test_an_agent_logs_time_against_the_budget(desk, agent, ticket):
    SupportBudgetFactory.create(community=ticket.community, hours=Decimal("2.00"))

    response = post(desk, ticket, "time", {"minutes": 45, "note": "Read the logs"})

    entry = TimeEntry.objects.get()
    assert (entry.ticket, entry.agent, entry.minutes, entry.note) == (
        ticket,
        agent,
        45,
        "Read the logs",
    )
    assert notices(response) == ["Logged 45 min."]
    html = page(desk, ticket)
    assert "<p>45 min logged on this ticket.</p>" in html
    assert f"<strong>45 min</strong> by {agent.display_name}" in html
    assert '<dd class="hours-left">1.25 h of 2.00 h this month</dd>' in html


@pytest.mark.parametrize(
    ("minutes", "error"),
    [
        (0, "Ensure this value is greater than or equal to 1."),
        (2000, "Ensure this value is less than or equal to 1440."),
        ("", "This field is required."),
    ],
)
def test_minutes_outside_a_day_are_refused_beside_the_field(desk, ticket, minutes, error):
    before = snapshot()

    response = post(desk, ticket, "time", {"minutes": minutes})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "time_minutes") == [error]
    assert snapshot() == before


# ---------------------------------------------------------------- links and merging


def test_an_agent_links_and_unlinks_a_related_ticket(desk, ticket):
    other = open_ticket(ticket.community, subject="Same pods, other namespace")

    post(desk, ticket, "links", {"other": other.reference.lower()})

    assert TicketLink.objects.filter(from_ticket=ticket, to_ticket=other).exists()
    assert f'<a href="/desk/tickets/{ticket.reference}/">{ticket.reference}</a>' in page(
        desk, other
    )
    assert f'<a href="/desk/tickets/{other.reference}/">{other.reference}</a> Same pods' in page(
        desk, ticket
    )

    response = post(desk, ticket, "links/remove", {"other": other.reference})

    assert notices(response) == [f"Unlinked {other.reference}."]
    assert not TicketLink.objects.exists()


@pytest.mark.parametrize(
    ("which", "error"),
    [
        ("elsewhere", "Only tickets of one community can be linked."),
        ("itself", "A ticket cannot be linked to itself."),
        ("missing", "There is no ticket SD-999999."),
    ],
)
def test_a_link_that_cannot_be_made_is_refused_beside_the_field(desk, ticket, which, error):
    reference = {
        "elsewhere": open_ticket().reference,
        "itself": ticket.reference,
        "missing": "SD-999999",
    }[which]
    before = snapshot()

    response = post(desk, ticket, "links", {"other": reference})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "link_other") == [error]
    assert snapshot() == before


def test_merging_asks_first_then_moves_the_conversation(desk, agent, ticket):
    target = open_ticket(ticket.community, subject="The original report")

    confirm = desk.get(
        f"/desk/tickets/{ticket.reference}/merge/", {"target": target.reference, "seen_event_id": 0}
    )
    assert confirm.status_code == 200
    assert f"Merge {ticket.reference} into {target.reference}?" in confirm.content.decode()
    assert "1 message and every file move" in confirm.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == "new"

    response = post(desk, ticket, "merge", {"target": target.reference, "seen_event_id": ""})

    assert response["Location"] == f"/desk/tickets/{target.reference}/"
    assert notices(response) == [f"{ticket.reference} was merged into {target.reference}."]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.merged_into) == ("closed", target)
    assert target.messages.count() == 3  # both first messages, and the note saying so


@pytest.mark.parametrize(
    ("which", "error"),
    [
        ("itself", "A ticket cannot be merged into itself."),
        ("elsewhere", "Only tickets of one community can be merged."),
        ("missing", "There is no ticket SD-999999."),
    ],
)
def test_a_merge_that_cannot_be_made_is_refused_beside_the_field(desk, ticket, which, error):
    reference = {
        "elsewhere": open_ticket().reference,
        "itself": ticket.reference,
        "missing": "SD-999999",
    }[which]
    before = snapshot()

    response = post(desk, ticket, "merge", {"target": reference})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "merge_target") == [error]
    assert snapshot() == before


def test_asking_to_merge_into_a_missing_ticket_shows_the_error_on_the_page(desk, ticket):
    response = desk.get(f"/desk/tickets/{ticket.reference}/merge/", {"target": "SD-999999"})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "merge_target") == [
        "There is no ticket SD-999999."
    ]


# ---------------------------------------------------------------- history, satisfaction, panels


def test_the_history_tab_lists_audit_events_and_record_changes_newest_first(desk, agent, ticket):
    colleague = AgentFactory.create(first_name="Sam", last_name="Berg")
    post(desk, ticket, "assign", {"assignee": colleague.pk})
    message_add(ticket=ticket, author=agent, body="Secret", kind="internal")
    ticket_update(ticket=ticket, actor=agent, data={"tags": ["gpu"]})

    html = page(desk, ticket, "?tab=history")

    activity = html.split('id="activity-title"')[1].split('id="records-title"')[0]
    assert [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"</strong>([^<]+)", activity)] == [
        "changed tags: — → gpu",
        "added an internal note",
        "changed status: New → Assigned",
        "assigned the ticket to Sam Berg",
        "opened the ticket (New, via Portal)",
    ]
    records = html.split('id="records-title"')[1]
    changes = [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"</strong>([^<]+)", records)]
    assert changes[0] == "changed tags: — → gpu"
    assert changes[-1] == "created the record"
    # The assignment and the status it brought are one write, one record.
    assert "changed assignee: — → Sam Berg; status: New → Assigned" in changes
    assert (
        '<a href="'
        + f"/desk/tickets/{ticket.reference}/?tab=history"
        + '" aria-current="page">History</a>'
        in html
    )


def test_the_history_tab_of_a_ticket_without_record_changes_shows_its_audit_trail(desk, ticket):
    ticket.history.all().delete()  # as a ticket imported in bulk, without simple-history rows

    html = page(desk, ticket, "?tab=history")

    activity = html.split('id="activity-title"')[1].split('id="records-title"')[0]
    assert [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"</strong>([^<]+)", activity)] == [
        "opened the ticket (New, via Portal)",
    ]
    assert re.findall(r"</strong>([^<]+)", html.split('id="records-title"')[1]) == []


def test_the_latest_satisfaction_rating_is_shown(desk, ticket):
    now = timezone.now()
    SatisfactionRating.objects.create(
        ticket=ticket,
        requester=ticket.requester,
        score="bad",
        answered_at=now - timedelta(days=3),
        sent_at=now - timedelta(days=4),
    )
    SatisfactionRating.objects.create(ticket=ticket, requester=ticket.requester, score="good",
                                      comment="Fixed, thanks!", answered_at=now - timedelta(hours=1),
                                      sent_at=now - timedelta(days=1))  # fmt: skip

    html = page(desk, ticket)

    assert '<h2 id="panel-satisfaction">Satisfaction</h2>' in html
    assert '<span class="badge badge-rating-good">Good</span>' in html
    assert "Fixed, thanks!" in html
    assert "badge-rating-bad" not in html


def test_no_satisfaction_panel_without_a_survey(desk, ticket):
    assert "Satisfaction" not in page(desk, ticket)


def test_the_side_column_shows_the_panels_the_setting_lists(desk, settings, ticket):
    settings.DESK_TICKET_PANELS = [
        "tests.web.desk.test_ticket_page.sla_panel",
        "tests.web.desk.test_ticket_page.no_panel",
        "web.desk.panels.time_panel",
    ]

    html = page(desk, ticket)

    titles = re.findall(r'<h2 id="panel-[\w-]+">([^<]+)</h2>', html)
    assert titles == ["SLA clocks", "Time logged"]
    assert f"<p>First response due for {ticket.reference}</p>" in html


def test_the_default_panels(desk, ticket):
    titles = re.findall(r'<h2 id="panel-[\w-]+">([^<]+)</h2>', page(desk, ticket))

    assert titles == [
        "Community and budget",
        "SLA clocks",
        "Time logged",
        "Links",
        "Attachments",
        "Why was this routed here?",
        "Knowledge base",
        "Priority",
        "Incidents",
    ]


def sla_panel(request, ticket) -> Panel:
    return Panel(
        "SLA clocks",
        "web/partials/form_errors.html",
        {"form": {"non_field_errors": [f"First response due for {ticket.reference}"]}},
    )


def no_panel(request, ticket) -> None:
    return None
