"""Demo data: plans, communities, representatives and members, agents at each tier, an
admin and a few tickets in different states. Idempotent: running it again changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import import_string

from communities import services as community_services
from communities.models import Community, Membership, ServicePlan
from core.models import User
from tickets.models import Channel, Macro, Message, Severity, Ticket, TicketKind
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_assign, ticket_open, ticket_transition
from tickets.services.macros import macro_create

PASSWORD = "demo-password"  # noqa: S105 - demo accounts, printed by `make run`

# seed 001, section 2.1
PLANS = [
    ("Essential", "essential", Decimal("99.000"), 10, "4-hour weekly"),
    ("Standard", "standard", Decimal("99.500"), 25, "6-hour weekly"),
    ("Premium", "premium", Decimal("99.900"), 100, "8-hour weekly"),
    ("Enterprise", "enterprise", Decimal("99.990"), 200, "10-hour monthly"),
]

COMMUNITIES = [
    # name, slug, plan, time zone, budget hours per month, representative, member
    ("Aurora Climate Hub", "aurora", "premium", "Europe/Berlin", 20, "rep@aurora.example", "member@aurora.example"),
    ("Open Tides Observatory", "open-tides", "standard", "America/Los_Angeles", 10, "rep@tides.example", "member@tides.example"),
    ("Kestrel Genomics", "kestrel", "enterprise", "Asia/Singapore", 40, "rep@kestrel.example", "member@kestrel.example"),
    ("Meridian Schools", "meridian", "essential", "Africa/Nairobi", 5, "rep@meridian.example", "member@meridian.example"),
]  # fmt: skip

MEMBER_NAMES = {
    "rep@aurora.example": ("Ines", "Navarro"),
    "member@aurora.example": ("Tom", "Becker"),
    "rep@tides.example": ("Maya", "Brooks"),
    "member@tides.example": ("Luis", "Ortega"),
    "rep@kestrel.example": ("Wei", "Lin"),
    "member@kestrel.example": ("Priya", "Nair"),
    "rep@meridian.example": ("Amani", "Wanjiru"),
    "member@meridian.example": ("Joseph", "Otieno"),
}

AGENTS = [
    ("agent1@example.com", "Sam", "Okafor", "Tier 1 (self service and triage)"),
    ("agent2@example.com", "Lena", "Fischer", "Tier 2 (community)"),
    ("agent3@example.com", "Ravi", "Iyer", "Tier 3 (expert)"),
    ("agent4@example.com", "Mia", "Chen", "Tier 4 (engineering)"),
]

TICKETS: list[dict[str, Any]] = [
    {
        "community": "aurora", "requester": "rep@aurora.example", "kind": TicketKind.INCIDENT,
        "severity": Severity.CRITICAL,
        "subject": "JupyterHub down: users get 503 on login",
        "description": "Since 09:10 UTC every login to our hub returns 503 Service Unavailable. "
        "Nobody can start a server; a workshop starts at 14:00.",
        "then": [("assign", "agent3@example.com", "agent3@example.com"),
                 ("note", "agent3@example.com", "The proxy pod is in CrashLoopBackOff since the node pool upgrade."),
                 ("transition", "agent3@example.com", "start_work")],
    },
    {
        "community": "aurora", "requester": "member@aurora.example", "kind": TicketKind.CHANGE_REQUEST,
        "severity": Severity.LOW,
        "subject": "Please add the xarray-spatial package to the default image",
        "description": "Our course next month uses xarray-spatial; could it be in the default image?",
    },
    {
        "community": "open-tides", "requester": "rep@tides.example", "kind": TicketKind.GUIDANCE_REQUEST,
        "severity": Severity.MEDIUM,
        "subject": "How should we share a 2 TB dataset with all users?",
        "description": "We have a 2 TB ocean model output. What is the recommended way to make it "
        "readable by every user without copying it into each home directory?",
        "then": [("assign", "agent2@example.com", "agent2@example.com"),
                 ("reply", "agent2@example.com", "Object storage with a shared read-only bucket "
                  "is the usual answer. Which cloud is your hub on?"), ("transition", "agent2@example.com", "wait_on_customer")],
    },
    {
        "community": "kestrel", "requester": "rep@kestrel.example", "kind": TicketKind.WORKSHOP_REQUEST,
        "severity": Severity.MEDIUM,
        "subject": "Workshop on 12 March for 40 participants",
        "description": "We run a genomics workshop on 12 March, 40 participants, 4 CPU / 16 GB each.",
        "then": [("transition", "agent3@example.com", "start_work"), ("transition", "agent3@example.com", "plan")],
    },
    {
        "community": "meridian", "requester": "rep@meridian.example", "kind": TicketKind.QUESTION,
        "severity": Severity.LOW,
        "subject": "Where do I reset a student's password?",
        "description": "A student forgot their password. Where can I reset it?",
        "then": [("reply", "agent1@example.com", "Representatives can reset passwords under Admin > Users."),
                 ("transition", "agent1@example.com", "resolve")],
    },
]  # fmt: skip


# Each capability's own demo data: a dotted path to a function taking no arguments, run
# after communities and people exist and before the demo tickets are opened. Idempotent.
DEMO_SEEDERS: list[str] = [
    "routing.demo.seed",
    "slas.demo.seed",
    "incidents.notify.demo.seed",
    "incidents.oncall.demo.seed",
    # After the on-call demo: its policies page the "Primary" and "Backup" schedules.
    "incidents.paging.demo.seed",
    # After paging: a closed SEV1 outage last month with its postmortem (uptime and credits).
    "incidents.demo.seed",
    # Budget periods, the support leads' group and three months of finished tickets.
    "reports.demo.seed",
    # The knowledge base: seed 000's categories, articles written for the demo product.
    "knowledgebase.demo.seed",
]

MACROS = [
    ("Acknowledge", "Hello {{ requester.first_name }},\n\nThanks for your request {{ ticket.reference }}. "
     "We have read it and will come back to you within one working day.\n\n{{ agent.first_name }}", "public"),
    # seed 004, non-incident response process, step 7
    ("Planned work", "Hello {{ requester.first_name }}, thanks for sending us your request. We've concluded "
     "that this is not related to an outage or diminished service, so we'll incorporate this request into "
     "our team's work planning process. We'll send an update when we've got a plan for completing this "
     "request.\n\n{{ agent.first_name }}", "public"),
    ("Need more information", "Hello {{ requester.first_name }},\n\nTo go further with {{ ticket.reference }} "
     "we need a little more: what did you expect to happen, what happened instead, and since when?\n\n"
     "{{ agent.first_name }}", "public"),
    ("Escalation note", "Escalating {{ ticket.reference }} ({{ community.name }}): tried …; suspect …; "
     "needs …", "internal"),
]  # fmt: skip


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            plans = self._plans()
            people = self._people()
            communities = self._communities(plans, people)
            # What each capability configures (calendars, policies, rules, schedules...)
            # comes before the tickets, whose events those capabilities react to.
            for seeder in DEMO_SEEDERS:
                import_string(seeder)()
            self._tickets(communities, people)
            self._macros()
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))

    def _plans(self) -> dict[str, ServicePlan]:
        plans = {}
        for position, (name, slug, uptime, credit, window) in enumerate(PLANS):
            plan = ServicePlan.objects.filter(slug=slug).first() or community_services.service_plan_create(
                name=name, slug=slug, position=position, uptime_guarantee=uptime,
                downtime_credit_percent=credit, maintenance_window=window,
            )  # fmt: skip
            plans[slug] = plan
        return plans

    def _user(self, email: str, first: str, last: str, **flags: bool) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, PASSWORD, first_name=first, last_name=last, **flags
            )
        return user

    def _people(self) -> dict[str, User]:
        people = {
            "admin@example.com": self._user(
                "admin@example.com", "Ada", "Admin", is_staff=True, is_superuser=True
            )
        }
        for email, first, last, group_name in AGENTS:
            agent = self._user(email, first, last, is_staff=True)
            group, _ = Group.objects.get_or_create(name=group_name)
            agent.groups.add(group)
            people[email] = agent
        for _, _, _, _, _, rep, member in COMMUNITIES:
            for email in (rep, member):
                people[email] = self._user(email, *MEMBER_NAMES[email])
        return people

    def _communities(
        self, plans: dict[str, ServicePlan], people: dict[str, User]
    ) -> dict[str, Community]:
        communities = {}
        for name, slug, plan, tz, hours, rep, member in COMMUNITIES:
            community = Community.objects.filter(
                slug=slug
            ).first() or community_services.community_create(
                name=name, slug=slug, service_plan=plans[plan], time_zone=tz
            )
            community_services.support_budget_set(
                community=community, hours=Decimal(hours), period="month"
            )
            for email, role in (
                (rep, Membership.Role.REPRESENTATIVE),
                (member, Membership.Role.MEMBER),
            ):
                if not Membership.objects.filter(community=community, user=people[email]).exists():
                    community_services.membership_add(
                        community=community, user=people[email], role=role
                    )
            communities[slug] = community
        return communities

    def _macros(self) -> None:
        for name, body, kind in MACROS:
            if not Macro.objects.filter(name=name, owner__isnull=True).exists():
                macro_create(name=name, body=body, kind=kind)

    def _tickets(self, communities: dict[str, Community], people: dict[str, User]) -> None:
        for spec in TICKETS:
            community = communities[spec["community"]]
            if Ticket.objects.filter(community=community, subject=spec["subject"]).exists():
                continue
            requester = people[spec["requester"]]
            ticket = ticket_open(
                community=community, requester=requester, subject=spec["subject"],
                description=spec["description"], kind=spec["kind"], severity=spec["severity"],
                channel=Channel.PORTAL, opened_by=requester,
            )  # fmt: skip
            for step, who, value in spec.get("then", []):
                actor = people[who]
                if step in ("reply", "note"):
                    kind = Message.Kind.PUBLIC if step == "reply" else Message.Kind.INTERNAL
                    message_add(
                        ticket=ticket, author=actor, body=value, kind=kind, channel=Channel.DESK
                    )
                elif step == "assign":
                    ticket_assign(ticket=ticket, assignee=people[value], actor=actor)
                else:
                    ticket_transition(ticket=ticket, name=value, actor=actor)
            if spec.get("then"):
                community_services.time_entry_log(
                    ticket=Ticket.objects.get(pk=ticket.pk), agent=people[spec["then"][0][1]], minutes=25,
                    note="First look",
                )  # fmt: skip
