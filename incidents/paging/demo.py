"""Demo escalation: policies per seed 001's alert hierarchy and seed 002's on-call handbook,
the routes from each cause to them, the engineering team, and one maintenance window in the
past.

Run by `manage.py seed_demo` (DEMO_SEEDERS) after the on-call demo (whose "Primary" and
"Backup" schedules the critical policy pages) and before the demo tickets are opened, so
that the critical demo ticket ("JupyterHub down"), once routed, pages the on-call engineer.
Idempotent: a policy, route, team or window that exists (by name) is left alone. Without
the on-call schedules nothing that needs them is made (the critical policy and its routes);
seeding again once they exist adds it.

- Critical (seed 002, seed 001 "page on-call"): page whoever is on call in Primary
  (important), wait 5 minutes (seed 002: acknowledge within 5 minutes), then Backup, wait 5,
  then the team lead, wait 5, and the whole chain twice more; then the engineering team. An
  acknowledged page still open after 30 minutes reminds its acknowledger (seed 002:
  escalate when stuck for more than 30 minutes). With PAGING_DEMO_WEBHOOK_URL set in the
  environment, the chain also calls that webhook right after paging Primary.
- High (seed 001 "SMS to engineering lead"): the engineering lead, important: their
  important rules (the notify demo: email, then SMS when a gateway is configured).
- Medium, e.g. an SLA breach (seed 001 "email to team lead"): the team lead, default
  importance (email).
- Low (seed 001 "Slack notification"): the team lead, default importance; the desk
  notification is the chat message here (their default rules also email).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from django.utils import timezone

from communities.models import Community
from core.models import User
from incidents.paging.models import CauseKind, EscalationPolicy, MaintenanceWindow, PolicyRoute
from incidents.paging.services.pages import maintenance_window_create
from incidents.paging.services.policies import policy_create
from routing.models import AgentProfile, Team
from routing.services import config
from tickets.models import Severity, Tier

TEAM_LEAD = "agent3@example.com"  # Ravi Iyer, tier 3 (expert)
ENGINEERING_LEAD = "agent4@example.com"  # Mia Chen, tier 4 (engineering)
ENGINEERING_TEAM = "Engineering"

CRITICAL = "Critical: page the on-call engineer"
HIGH = "High: the engineering lead, important"
MEDIUM = "Medium: email the team lead"
LOW = "Low: tell the team lead on the desk"

# cause → policy per severity (seed 001's hierarchy for every cause)
BY_SEVERITY = {
    Severity.CRITICAL: CRITICAL,
    Severity.HIGH: HIGH,
    Severity.MEDIUM: MEDIUM,
    Severity.LOW: LOW,
}
MAINTENANCE_REASON = "Node pool upgrade of the shared JupyterHub cluster (demo)"


def _user(email: str) -> User | None:
    return User.objects.filter(email=email, is_active=True).first()


def _team(members: list[User]) -> Team | None:
    team = Team.objects.filter(name=ENGINEERING_TEAM).first()
    if team is not None:
        return team
    profiles = list(AgentProfile.objects.filter(user__in=members))
    if not profiles:
        return None
    return config.team_create(name=ENGINEERING_TEAM, tier=Tier.ENGINEERING, members=profiles)


def _critical_steps(team_lead: User) -> list[dict[str, Any]] | None:
    from incidents.oncall.models import Schedule

    primary = Schedule.objects.filter(name="Primary").first()
    backup = Schedule.objects.filter(name="Backup").first()
    if primary is None or backup is None:
        return None
    steps: list[dict[str, Any]] = [
        {"kind": "notify_on_call", "schedule": primary, "important": True}
    ]
    webhook = os.environ.get("PAGING_DEMO_WEBHOOK_URL", "").strip()
    if webhook:
        steps.append({"kind": "webhook", "webhook_url": webhook})
    steps += [
        {"kind": "wait", "wait_minutes": 5},
        {"kind": "notify_on_call", "schedule": backup, "important": True},
        {"kind": "wait", "wait_minutes": 5},
        {"kind": "notify_users", "users": [team_lead], "important": True},
        {"kind": "wait", "wait_minutes": 5},
    ]
    steps.append({"kind": "repeat", "repeat_from": 1, "repeat_times": 2})
    return steps


def _policies(
    team_lead: User, engineering_lead: User, team: Team | None
) -> dict[str, EscalationPolicy]:
    existing = {p.name: p for p in EscalationPolicy.objects.filter(name__in=BY_SEVERITY.values())}
    wanted: dict[str, dict[str, Any]] = {
        HIGH: {
            "description": "Seed 001: high alerts (degraded performance) go to the "
            "engineering lead by SMS: an important notification, their own rules.",
            "steps": [{"kind": "notify_users", "users": [engineering_lead], "important": True}],
        },
        MEDIUM: {
            "description": "Seed 001: medium alerts, such as an SLA breach, email the team lead.",
            "steps": [{"kind": "notify_users", "users": [team_lead]}],
        },
        LOW: {
            "description": "Seed 001: low alerts are a chat notification; here, the team "
            "lead's desk notifications (default importance).",
            "steps": [{"kind": "notify_users", "users": [team_lead]}],
        },
    }
    critical = _critical_steps(team_lead)
    if critical is not None:
        wanted[CRITICAL] = {
            "description": "Seed 002: acknowledge within 5 minutes, or the backup is paged; "
            "then the team lead; the whole chain three times in all, then the engineering "
            "team. Seed 001: critical alerts page on-call.",
            "steps": critical,
            "fallback_team": team,
            "reminder_minutes": 30,
        }
    for name, spec in wanted.items():
        if name not in existing:
            existing[name] = policy_create(name=name, **spec)
    return existing


def _routes(policies: dict[str, EscalationPolicy]) -> None:
    causes = [
        CauseKind.CRITICAL_TICKET,
        CauseKind.SLA_BREACH,
        CauseKind.INCIDENT,
        CauseKind.INTEGRATION,
    ]
    for number, cause in enumerate(causes, start=1):
        if cause == CauseKind.CRITICAL_TICKET:
            # A critical ticket is critical whatever its requester said: any severity.
            targets = [("", CRITICAL)]
        else:
            targets = [(severity.value, name) for severity, name in BY_SEVERITY.items()]
        for offset, (severity, name) in enumerate(targets):
            policy = policies.get(name)
            if policy is None:
                continue
            if PolicyRoute.objects.filter(
                cause=cause, severity=severity, community__isnull=True
            ).exists():
                continue
            PolicyRoute.objects.create(
                position=number * 10 + offset, cause=cause, severity=severity, policy=policy
            )


def _maintenance(created_by: User | None) -> None:
    if MaintenanceWindow.objects.filter(reason=MAINTENANCE_REASON).exists():
        return
    community = Community.objects.filter(slug="aurora").first()
    today = timezone.now().replace(hour=2, minute=0, second=0, microsecond=0)
    starts = today - timedelta(days=7)
    maintenance_window_create(
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        community=community,
        service="jupyterhub",
        reason=MAINTENANCE_REASON,
        created_by=created_by,
    )


def seed() -> None:
    team_lead, engineering_lead = _user(TEAM_LEAD), _user(ENGINEERING_LEAD)
    if team_lead is None or engineering_lead is None:
        return
    team = _team([team_lead, engineering_lead])
    policies = _policies(team_lead, engineering_lead, team)
    _routes(policies)
    _maintenance(_user("admin@example.com"))
