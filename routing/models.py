"""Skills, agents' routing profiles, teams, the ordered rules, and each routing decision.

tickets.Category (a lower layer) knows nothing of skills: the skill a category needs is a
CategoryRouting row here, one to one with the category.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from communities.models import validate_time_zone
from core.models import values_check
from tickets.models import Channel, Severity, TicketKind, Tier

TIER_LEVELS = (1, 2, 3, 4)


class Skill(models.Model):
    """What an agent knows (security, deployment...). A category may require one."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class CategoryRouting(models.Model):
    """Routing's side of a tickets.Category: the skill an agent needs to take its tickets."""

    category = models.OneToOneField(
        "tickets.Category", on_delete=models.CASCADE, primary_key=True, related_name="routing"
    )
    required_skill = models.ForeignKey(
        Skill, on_delete=models.PROTECT, null=True, blank=True, related_name="categories"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "category routing"

    def __str__(self) -> str:
        return f"{self.category}: {self.required_skill or 'no skill needed'}"


class AgentProfile(models.Model):
    """How routing sees an agent: tier, skills, capacity, working hours and presence."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"
        OFF = "off", "Off"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    tier_level = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="1 self service, 2 community, 3 expert, 4 engineering (seed 001).",
    )
    skills = models.ManyToManyField(Skill, blank=True, related_name="agents")
    max_open_tickets = models.PositiveSmallIntegerField(
        default=10, help_text="Routing assigns no more than this many working tickets."
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    work_days = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)]),
        default=list,
        blank=True,
        help_text="ISO weekdays (1 Monday … 7 Sunday). Empty: every day.",
    )
    work_starts = models.TimeField(null=True, blank=True, help_text="Local time; empty: all day.")
    work_ends = models.TimeField(
        null=True, blank=True, help_text="Local time; may be past midnight."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    substitute = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="substituting_for",
        help_text="Takes this agent's place while they are away (and theirs, if away too).",
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_assigned_at"])

    class Meta:
        ordering = ("tier_level", "user__email")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(tier_level__gte=1, tier_level__lte=4),
                name="agent_tier_level_1_to_4",
            ),
            values_check("status", ["available", "away", "off"], "agent_status_valid"),
            models.CheckConstraint(
                condition=~models.Q(substitute=models.F("pk")),
                name="agent_not_own_substitute",
                violation_error_code="own_substitute",
                violation_error_message="An agent cannot be their own substitute.",
            ),
            models.CheckConstraint(
                condition=models.Q(work_starts__isnull=True, work_ends__isnull=True)
                | models.Q(work_starts__isnull=False, work_ends__isnull=False),
                name="agent_work_hours_both_or_neither",
                violation_error_code="work_hours_both_or_neither",
                violation_error_message="Set both ends of the working hours, or neither.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} (tier {self.tier_level})"


class Team(models.Model):
    """A group of agents a rule can send tickets to, instead of a whole tier."""

    name = models.CharField(max_length=100, unique=True)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.COMMUNITY)
    members = models.ManyToManyField(AgentProfile, blank=True, related_name="teams")
    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [values_check("tier", Tier.values, "team_tier_valid")]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """One ordered, switchable rule: when all its conditions hold, its actions apply."""

    class MatchIn(models.TextChoices):
        BOTH = "both", "Subject and description"
        SUBJECT = "subject", "Subject only"
        DESCRIPTION = "description", "Description only"

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    active = models.BooleanField(default=True)
    # Conditions: all that are set must hold.
    keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    negative_keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    match_in = models.CharField(max_length=12, choices=MatchIn.choices, default=MatchIn.BOTH)
    communities = models.ManyToManyField("communities.Community", blank=True, related_name="+")
    service_plans = models.ManyToManyField("communities.ServicePlan", blank=True, related_name="+")
    channels = ArrayField(
        models.CharField(max_length=10, choices=Channel.choices), default=list, blank=True
    )
    kinds = ArrayField(
        models.CharField(max_length=20, choices=TicketKind.choices), default=list, blank=True
    )
    requester_is_representative = models.BooleanField(null=True, blank=True)
    # Actions.
    set_category = models.ForeignKey(
        "tickets.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raise_severity = models.CharField(
        max_length=10, choices=Severity.choices, blank=True, default=""
    )
    override_severity = models.BooleanField(
        default=False, help_text="Set the severity even when that lowers it."
    )
    set_tier = models.CharField(max_length=20, choices=Tier.choices, blank=True, default="")
    set_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="rules"
    )
    add_tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    stop_processing = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(
        m2m_fields=[communities, service_plans], excluded_fields=["updated_at"]
    )

    class Meta:
        ordering = ("position", "id")
        constraints: ClassVar = [
            values_check("match_in", ["both", "subject", "description"], "rule_match_in_valid"),
            values_check("raise_severity", Severity.values, "rule_severity_valid", blank=True),
            values_check("set_tier", Tier.values, "rule_tier_valid", blank=True),
            models.CheckConstraint(
                condition=models.Q(override_severity=False) | ~models.Q(raise_severity=""),
                name="rule_override_needs_a_severity",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["position", "id"], condition=models.Q(active=True), name="rule_active_order"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RoutingDecision(models.Model):
    """One run of the router on one ticket, kept so that anyone can see why it went where."""

    class Trigger(models.TextChoices):
        OPENED = "opened", "Ticket opened"
        APPROVED = "approved", "Request approved"
        REROUTE = "reroute", "Re-routed by an agent"
        ESCALATION = "escalation", "Tier escalation"
        QUEUE = "queue", "Assigned from the waiting queue"

    class Outcome(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        KEPT = "kept", "Assignment kept"
        WAITING = "waiting", "Waiting for an agent"
        NOT_ROUTABLE = "not_routable", "Not routable"

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="routing_decisions"
    )
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    rules_ran = models.BooleanField(default=True)
    # [{"id", "name", "position", "matched": [...], "actions": [...]}], in the order they fired
    rules = models.JSONField(default=list, blank=True)
    stopped_by = models.CharField(max_length=120, blank=True)
    severity_assessment = models.JSONField(default=dict, blank=True)
    # {"label", "category_id", "confidence", "threshold", "used", "words", "model_version"}
    suggestion = models.JSONField(null=True, blank=True)
    # {"category_id", "severity", "tier"} as they were before this run
    before = models.JSONField(default=dict, blank=True)
    category = models.ForeignKey(
        "tickets.Category", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    category_why = models.CharField(max_length=300, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    severity_why = models.CharField(max_length=300, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    tier_why = models.CharField(max_length=300, blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tags_added = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # [{"agent_id", "name", "tier_level", "eligible", "reason", "load", "capacity",
    #   "community_worked_at", "last_assigned_at", "rank"}]
    candidates = models.JSONField(default=list, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    explanation = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0.0)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            # A ticket is routed once when it enters the workflow, however often the event
            # is delivered.
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(trigger__in=["opened", "approved"]),
                name="routing_first_run_once",
            ),
            values_check(
                "trigger",
                ["opened", "approved", "reroute", "escalation", "queue"],
                "decision_trigger_valid",
            ),
            values_check(
                "outcome", ["assigned", "kept", "waiting", "not_routable"], "decision_outcome_valid"
            ),
            values_check("severity", Severity.values, "decision_severity_valid"),
            values_check("tier", Tier.values, "decision_tier_valid"),
        ]
        indexes: ClassVar = [models.Index(fields=["ticket", "-created_at"])]

    def __str__(self) -> str:
        return f"Routing of ticket {self.ticket_id} ({self.get_trigger_display()})"


class RuleHit(models.Model):
    """A rule fired in a decision: what the per-rule hit counts are made of."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, related_name="hits")
    decision = models.ForeignKey(RoutingDecision, on_delete=models.CASCADE, related_name="hits")
    matched = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["rule", "created_at"])]

    def __str__(self) -> str:
        return f"Rule {self.rule_id} in decision {self.decision_id}"


class WaitingTicket(models.Model):
    """A routed ticket nobody could take: it waits, unassigned, in its tier's (or team's)
    queue until an agent has room or comes back. The row goes when the ticket is assigned."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="routing_wait"
    )
    tier = models.CharField(max_length=20, choices=Tier.choices)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="waiting"
    )
    since = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    tried_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("since",)
        constraints: ClassVar = [values_check("tier", Tier.values, "waiting_tier_valid")]
        indexes: ClassVar = [models.Index(fields=["since"])]

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id} waiting at {self.tier}"


class TierEscalation(models.Model):
    """A move of a ticket one tier up or down, by an agent or by an SLA breach."""

    class Direction(models.TextChoices):
        UP = "up", "Up"
        DOWN = "down", "Down"

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="tier_escalations"
    )
    direction = models.CharField(max_length=4, choices=Direction.choices)
    from_tier = models.CharField(max_length=20, choices=Tier.choices)
    to_tier = models.CharField(max_length=20, choices=Tier.choices)
    reason = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The outbox event (an SLA breach) that caused it: each breach escalates at most once.
    source_event_id = models.BigIntegerField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            values_check("direction", ["up", "down"], "escalation_direction_valid"),
            models.CheckConstraint(
                condition=~models.Q(from_tier=models.F("to_tier")), name="escalation_moves"
            ),
        ]

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id}: {self.from_tier} → {self.to_tier}"
