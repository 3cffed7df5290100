"""Reporting's mail through the email channel's outbox: threshold crossings, budget notices,
the weekly and monthly summaries. Each is queued once per cause and recipient (a check or a
task run twice adds nothing), carries the figures, respects what people turned off and the
desk's own addresses, is sent by `mail.send` after commit, and uses its kind's template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail as django_mail
from django.core.mail import EmailMultiAlternatives

from communities.services import time_entry_log
from core.models import User
from reports import metrics
from reports.budgets import budget_notices_send
from reports.mail import budget_notice_queue, summary_queue, threshold_crossed_queue
from reports.models import ReportMailing, Target, ThresholdCrossing
from reports.summaries import monthly_summaries_send, weekly_summary_send
from reports.targets import targets_check
from tests.communities.factories import CommunityFactory, MembershipFactory, SupportBudgetFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.mail.models import MailPreference, MailTemplate, OutboundMail
from tickets.mail.outbound import mail_preference_set, mail_template_reset, outbound_send
from tickets.models import SatisfactionRating

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SUMMARY_DAY = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # a Wednesday, the 1st


def lead_named(email: str) -> User:
    user = AgentFactory.create(email=email)
    Group.objects.get_or_create(name="Support leads")[0].user_set.add(user)
    return user


@pytest.fixture
def lead() -> User:
    return lead_named("lead@desk.example")


def outbox(kind: str) -> list[OutboundMail]:
    return list(OutboundMail.objects.filter(kind=kind).order_by("recipient"))


def satisfaction_missed() -> None:
    """One bad answer in the last day: satisfaction 0 %, past its 80 % threshold."""
    Target.objects.exclude(metric="satisfaction").update(active=False)
    ticket = TicketFactory.create()
    SatisfactionRating.objects.create(
        ticket=ticket, requester=ticket.requester, score="bad", answered_at=NOW - timedelta(hours=1)
    )


def ours_with_a_ticket_in_march() -> tuple[User, User]:
    """Community "Ours": a representative with a ticket opened in March, and a member."""
    community = CommunityFactory.create(name="Ours", slug="ours")
    rep = MembershipFactory.create(community=community, role="representative").user
    member = MembershipFactory.create(community=community, role="member").user
    TicketFactory.create(
        community=community, requester=rep, created_at=datetime(2026, 3, 10, tzinfo=UTC)
    )
    return rep, member


# ---------------------------------------------------------------- threshold crossings


def test_a_crossing_is_queued_once_per_support_lead_with_its_figures(lead):
    other = lead_named("second@desk.example")
    satisfaction_missed()

    with time_machine.travel(NOW, tick=False):
        assert [r.crossed for r in targets_check()] == [True]
        assert [r.crossed for r in targets_check()] == [False]  # the check runs again
    crossing = ThresholdCrossing.objects.get()
    figure = metrics.Figure("satisfaction", "Satisfaction (good answers)", 0.0, "%")
    threshold_crossed_queue(crossing=crossing, figure=figure)  # the same crossing again

    mails = outbox("threshold_crossed")
    assert [(m.recipient, m.status, m.dedup_key) for m in mails] == [
        (lead.email, "queued", f"threshold_crossed:crossing:{crossing.pk}"),
        (other.email, "queued", f"threshold_crossed:crossing:{crossing.pk}"),
    ]
    first = mails[0]
    assert first.subject == "Satisfaction (good answers) missed its threshold: 0.0 %"
    assert "Satisfaction (good answers) over the last 7 days is 0.0 %, past its threshold." in (
        first.text
    )
    assert "Target:    90.0 % (higher is better)" in first.text
    assert "Threshold: 80.0 %" in first.text
    assert "Crossed:   2026-03-31 12:00 UTC" in first.text
    assert "/desk/reports/support/" in first.text
    assert "<strong>0.0 %</strong>" in first.html
    assert first.ticket is None
    assert first.auto_submitted
    assert crossing.notified_at is not None


# ---------------------------------------------------------------- budget notices


def test_a_budget_notice_is_queued_once_to_representatives_and_leads_with_the_hours(lead, agent):
    community = CommunityFactory.create(name="Aurora", slug="aurora", time_zone="UTC")
    rep = MembershipFactory.create(community=community, role="representative").user
    both = lead_named("lead-and-rep@desk.example")
    MembershipFactory.create(community=community, user=both, role="representative")
    SupportBudgetFactory.create(community=community, hours=10, period="month")
    ticket = TicketFactory.create(community=community, requester=rep)

    with time_machine.travel(NOW, tick=False):
        time_entry_log(ticket=ticket, agent=agent, minutes=480)  # 80 % of 10 h
        [notice] = budget_notices_send(community_id=community.pk)
        assert budget_notices_send(community_id=community.pk) == []  # the task runs again
    budget_notice_queue(notice=notice)  # the same notice again

    mails = {m.recipient: m for m in outbox("budget_notice")}
    assert sorted(mails) == sorted([rep.email, both.email, lead.email])  # `both` once
    assert {m.dedup_key for m in mails.values()} == {f"budget_notice:notice:{notice.pk}"}
    to_rep, to_lead = mails[rep.email], mails[lead.email]
    assert to_rep.subject == "Aurora: 80 % of the support budget used"
    assert "for the month from 2026-03-01 to 2026-03-31" in to_rep.text
    assert "Used: 8.0 h of 10.0 h (80.0 %)" in to_rep.text
    assert "Requests keep their place in the queue" in to_rep.text
    assert "/portal/reports/aurora/" in to_rep.text
    assert "/desk/reports/community/" in to_lead.text
    assert "<strong>8.0 h</strong> of 10.0 h (80.0 %)" in to_lead.html


def test_the_100_percent_notice_says_requests_move_back(agent):
    community = CommunityFactory.create(name="Aurora", time_zone="UTC")
    SupportBudgetFactory.create(community=community, hours=1, period="month")
    ticket = TicketFactory.create(community=community)

    with time_machine.travel(NOW, tick=False):
        time_entry_log(ticket=ticket, agent=agent, minutes=90)
        assert [n.level for n in budget_notices_send(community_id=community.pk)] == [80, 100]

    [full] = [m for m in outbox("budget_notice") if m.subject.startswith("Aurora: 100 %")]
    assert "Used: 1.5 h of 1.0 h (150.0 %)" in full.text
    assert "other than incidents now come after other work" in full.text


# ---------------------------------------------------------------- scheduled summaries


def test_the_weekly_summary_is_queued_once_per_lead_with_the_figures(lead):
    other = lead_named("second@desk.example")
    ours_with_a_ticket_in_march()

    with time_machine.travel(datetime(2026, 3, 16, 7, tzinfo=UTC), tick=False):  # a Monday
        assert weekly_summary_send() == 2
        assert weekly_summary_send() == 0  # the task runs again
    mailing = ReportMailing.objects.get()
    summary_queue(
        mailing=mailing, end=datetime(2026, 3, 16, tzinfo=UTC), figures=[], budgets=[]
    )  # the same mailing again

    mails = outbox("weekly_summary")
    assert [(m.recipient, m.dedup_key) for m in mails] == [
        (lead.email, f"weekly_summary:mailing:{mailing.pk}"),
        (other.email, f"weekly_summary:mailing:{mailing.pk}"),
    ]
    assert mails[0].subject == "Weekly support summary: 2026-03-09 to 2026-03-15"
    assert "- Tickets opened: 1 (0)" in mails[0].text
    assert "/desk/reports/support/" in mails[0].text
    assert '<td>Tickets opened</td><td align="right">1</td><td align="right">0</td>' in (
        mails[0].html
    )
    assert mailing.recipients == 2


def test_the_monthly_summary_goes_once_to_each_representative_of_their_community_only(lead):
    rep, member = ours_with_a_ticket_in_march()
    MembershipFactory.create(community=CommunityFactory.create(name="Theirs"))  # no representative
    SupportBudgetFactory.create(community=rep.memberships.get().community, hours=10)

    with time_machine.travel(SUMMARY_DAY, tick=False):
        assert monthly_summaries_send() == 1
        assert monthly_summaries_send() == 0  # the task runs again

    [monthly] = outbox("monthly_summary")
    assert monthly.recipient == rep.email
    assert monthly.subject == "Ours: support in March 2026"
    assert "in March 2026, from 2026-03-01 to 2026-03-31" in monthly.text
    assert "- Tickets opened: 1 (0)" in monthly.text
    assert "Support budget, current period:\n- 0.0 h of 10.0 h used (0.0 %)" in monthly.text
    assert "/portal/reports/ours/" in monthly.text
    assert "Theirs" not in monthly.text
    assert ReportMailing.objects.get().recipients == 1


# ---------------------------------------------------------------- preferences, own addresses


def test_what_a_person_turned_off_is_kept_suppressed_and_not_counted(lead, settings):
    other = lead_named("second@desk.example")
    own = lead_named("support@localhost")  # the desk's own address (DEFAULT_FROM_EMAIL)
    mail_preference_set(user=lead, muted=["weekly_summary", "threshold_crossed"])
    ours_with_a_ticket_in_march()
    satisfaction_missed()

    with time_machine.travel(NOW, tick=False):
        targets_check()
        assert weekly_summary_send() == 1

    for kind in ("weekly_summary", "threshold_crossed"):
        assert [(m.recipient, m.status, m.reason) for m in outbox(kind)] == [
            (lead.email, "suppressed", "The recipient turned this notification off."),
            (other.email, "queued", ""),
            (own.email, "suppressed", "The desk never mails its own addresses."),
        ]
    assert ReportMailing.objects.get().recipients == 1


# ---------------------------------------------------------------- sending and templates


def test_the_mail_goes_to_the_send_task_after_commit_and_out_as_text_and_html(
    lead, django_capture_on_commit_callbacks
):
    ours_with_a_ticket_in_march()
    with (
        mock.patch("tickets.mail.tasks.send_mail.apply_async") as send_task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        with time_machine.travel(SUMMARY_DAY, tick=False):
            weekly_summary_send()
        assert send_task.call_count == 0  # not before the commit
    row = OutboundMail.objects.get(kind="weekly_summary")
    assert send_task.call_args_list == [mock.call(kwargs={"mail_id": row.pk})]

    assert outbound_send(mail_id=row.pk).status == "sent"
    assert outbound_send(mail_id=row.pk).status == "sent"  # the task runs twice: one mail
    [sent] = django_mail.outbox
    assert isinstance(sent, EmailMultiAlternatives)
    assert sent.to == [lead.email]
    assert sent.subject == "Weekly support summary: 2026-03-23 to 2026-03-29"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    assert "<td>Tickets opened</td>" in str(html)


def test_a_summary_template_edited_in_the_admin_is_used_and_can_be_reset(lead, client):
    client.force_login(AgentFactory.create(is_superuser=True))
    listing = client.get("/admin/mail/mailtemplate/").content.decode()
    for label in (
        "A report figure missed its threshold",
        "The weekly support summary",
        "A support budget reached 80 % or 100 %",
        "The monthly summary of my community",
    ):
        assert label in listing  # fmt: skip
    template = MailTemplate.objects.get(kind="weekly_summary")
    template.subject = "Week {{ start }}"
    template.text = "{% for f in figures %}{{ f.label }}={{ f.value }};{% endfor %}"
    template.html = ""
    template.save()
    ours_with_a_ticket_in_march()

    with time_machine.travel(SUMMARY_DAY, tick=False):
        weekly_summary_send()

    row = OutboundMail.objects.get(kind="weekly_summary")
    assert row.subject == "Week 2026-03-23"
    assert row.text.startswith("Tickets opened=0;Tickets resolved=0;")
    assert row.html == ""
    reset = mail_template_reset(kind="weekly_summary")
    assert reset.subject == "Weekly support summary: {{ start }} to {{ end }}"
    assert reset.history.count() == 3  # created by the listing, edited, reset


# ---------------------------------------------------------------- the profile


def test_the_profile_offers_the_reports_mail_to_those_who_get_it(client, lead):
    rep, member = ours_with_a_ticket_in_march()
    mail_preference_set(user=rep, muted=["staff_reply"])

    def offered(user: User) -> list[str]:
        client.force_login(user)
        html = client.get("/accounts/profile/").content.decode()
        kinds = ("threshold_crossed", "budget_notice", "weekly_summary", "monthly_summary")
        return [kind for kind in kinds if f'name="mail-wanted" value="{kind}"' in html]

    assert offered(lead) == ["threshold_crossed", "budget_notice", "weekly_summary"]
    assert offered(rep) == ["budget_notice", "monthly_summary"]
    assert offered(member) == []

    client.force_login(rep)
    wanted = ["request_received", "approval_requested", "approved", "declined", "resolved",
              "merged", "budget_notice"]  # fmt: skip
    form = {"first_name": "Rae", "last_name": "Rep", "time_zone": "UTC", "mail-wanted": wanted}
    assert client.post("/accounts/profile/", form).status_code == 302
    assert MailPreference.objects.get(user=rep).muted == ["monthly_summary", "staff_reply"]
