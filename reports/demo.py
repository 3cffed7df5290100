"""Reports' demo data (seed_demo's DEMO_SEEDERS): the support leads' group with the admin
in it, each community's current budget period, and three months of finished tickets (first
responses, resolutions, a few reopened and escalated, satisfaction answers and time logged)
so that the dashboards have figures to show. Idempotent: the history is added once."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from communities.models import Community, Membership, SupportBudget, TimeEntry
from core.models import User
from reports.budgets import budget_periods_roll
from tickets.models import Message, SatisfactionRating, Ticket, TicketEvent

HISTORY_TAG = "demo-history"
PER_COMMUNITY = 24
DAYS = 90


def seed() -> None:
    group, _ = Group.objects.get_or_create(name=settings.REPORTS_LEADS_GROUP)
    for admin in User.objects.filter(is_superuser=True):
        group.user_set.add(admin)
    if not Ticket.objects.filter(tags__contains=[HISTORY_TAG]).exists():
        _history()
    if SupportBudget.objects.exists():
        budget_periods_roll()


def _history() -> None:
    rng = random.Random(11)  # noqa: S311 - the same demo every time, not a secret
    agents = list(
        User.objects.filter(is_staff=True, is_active=True, is_superuser=False).order_by("email")
    )
    if not agents:
        return
    now = timezone.now()
    for community in Community.objects.order_by("name"):
        rep = (
            Membership.objects.filter(community=community, role=Membership.Role.REPRESENTATIVE)
            .select_related("user")
            .first()
        )
        if rep is None:
            continue
        for i in range(PER_COMMUNITY):
            created = now - timedelta(days=rng.uniform(4, DAYS), minutes=rng.randint(0, 600))
            agent = rng.choice(agents)
            responded = created + timedelta(minutes=rng.choice([5, 12, 25, 40, 90, 150, 300]))
            resolved = responded + timedelta(hours=rng.choice([1, 3, 6, 20, 30, 52]))
            done = resolved < now - timedelta(hours=1)
            ticket = Ticket.objects.create(
                community=community, requester=rep.user, assignee=agent,
                subject=f"Earlier request {i + 1} of {community.name}",
                description="A request from the last three months (demo history).",
                kind=rng.choice(["question", "guidance_request", "change_request", "incident"]),
                severity=rng.choice(["low", "medium", "medium", "high", "critical"]),
                tier=rng.choice(["community", "community", "expert", "engineering"]),
                channel=rng.choice(["portal", "email", "email", "api", "desk"]),
                status="resolved" if done else "in_progress", tags=[HISTORY_TAG],
                created_at=created, updated_at=resolved if done else responded,
                status_changed_at=resolved if done else responded,
                first_responded_at=responded,
                resolved_at=resolved if done else None,
            )  # fmt: skip
            Message.objects.create(
                ticket=ticket, author=rep.user, body=ticket.description, created_at=created
            )
            Message.objects.create(
                ticket=ticket, author=agent, body="Here is what to do.", created_at=responded
            )
            if rng.random() < 0.2:
                Message.objects.create(
                    ticket=ticket,
                    author=agent,
                    body="One more thing.",
                    created_at=responded + timedelta(minutes=30),
                )
            if done and rng.random() < 0.1:
                TicketEvent.objects.create(
                    ticket=ticket, actor=rep.user, kind=TicketEvent.Kind.STATUS_CHANGED,
                    data={"transition": "reopen", "previous": "resolved", "status": "open"},
                    created_at=resolved - timedelta(minutes=30),
                )  # fmt: skip
            if done:
                TicketEvent.objects.create(
                    ticket=ticket, actor=agent, kind=TicketEvent.Kind.STATUS_CHANGED,
                    data={"transition": "resolve", "previous": "in_progress", "status": "resolved"},
                    created_at=resolved,
                )  # fmt: skip
                if rng.random() < 0.6:
                    SatisfactionRating.objects.create(
                        ticket=ticket, requester=rep.user,
                        score="good" if rng.random() < 0.85 else "bad",
                        sent_at=resolved, answered_at=resolved + timedelta(hours=2),
                    )  # fmt: skip
            TimeEntry.objects.create(
                ticket=ticket, community=community, agent=agent,
                minutes=rng.choice([15, 30, 45, 60, 90]), worked_at=responded,
            )  # fmt: skip
