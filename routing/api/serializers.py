"""Shapes of the routing API. Input serializers only parse (and refuse fields they do not
know); output serializers only render."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from routing.models import AgentProfile, RoutingDecision, RoutingRule, Skill, Team, TierEscalation
from tickets.models import Category, Channel, Severity, TicketKind, Tier


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not declare, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class RoutingRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()


class RoutingPersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="display_name")


# ---------------------------------------------------------------- rules


class RuleSerializer(serializers.ModelSerializer[RoutingRule]):
    communities: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    service_plans: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    set_category = RoutingRefSerializer(allow_null=True)
    set_team = RoutingRefSerializer(allow_null=True)
    hits_30d = serializers.IntegerField(read_only=True, help_text="Times it fired, last 30 days.")

    class Meta:
        model = RoutingRule
        fields: tuple[str, ...] = (
            "id", "name", "position", "active", "keywords", "negative_keywords", "match_in",
            "communities", "service_plans", "channels", "kinds", "requester_is_representative",
            "set_category", "raise_severity", "override_severity", "set_tier", "set_team",
            "add_tags", "stop_processing", "hits_30d", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class RuleInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)
    position = serializers.IntegerField(min_value=0, max_value=2_000_000_000, required=False)
    active = serializers.BooleanField(required=False)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=False),
        required=False,
    )
    negative_keywords = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=False),
        required=False,
    )
    match_in = serializers.ChoiceField(choices=RoutingRule.MatchIn.choices, required=False)
    communities = serializers.ListField(child=serializers.SlugField(), required=False)
    service_plans = serializers.ListField(child=serializers.SlugField(), required=False)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), required=False
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TicketKind.choices), required=False
    )
    requester_is_representative = serializers.BooleanField(allow_null=True, required=False)
    set_category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), allow_null=True, required=False
    )
    raise_severity = serializers.ChoiceField(
        choices=Severity.choices, allow_blank=True, required=False
    )
    override_severity = serializers.BooleanField(required=False)
    set_tier = serializers.ChoiceField(choices=Tier.choices, allow_blank=True, required=False)
    set_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), allow_null=True, required=False
    )
    add_tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    stop_processing = serializers.BooleanField(required=False)


class RuleTestInputSerializer(StrictSerializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    community = serializers.SlugField(required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.PORTAL)
    kind = serializers.ChoiceField(choices=TicketKind.choices, default=TicketKind.QUESTION)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    requester_is_representative = serializers.BooleanField(default=True)


class FiredRuleSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    position = serializers.IntegerField()
    matched = serializers.ListField(child=serializers.CharField())
    actions = serializers.ListField(child=serializers.CharField())


class CandidateSerializer(serializers.Serializer[Any]):
    agent_id = serializers.IntegerField()
    name = serializers.CharField()
    tier_level = serializers.IntegerField()
    status = serializers.CharField()
    eligible = serializers.BooleanField()
    reason = serializers.CharField()
    load = serializers.IntegerField()
    capacity = serializers.IntegerField()
    community_worked_at = serializers.CharField(allow_null=True)
    affinity_via = serializers.CharField()
    last_assigned_at = serializers.CharField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)


class SuggestionSerializer(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    category_id = serializers.IntegerField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    threshold = serializers.FloatField()
    used = serializers.BooleanField()
    words = serializers.ListField(child=serializers.CharField())
    model_version = serializers.CharField()


class AssessmentSerializer(serializers.Serializer[Any]):
    severity = serializers.CharField(allow_null=True)
    phrases = serializers.ListField(child=serializers.CharField())


class DryRunSerializer(serializers.Serializer[Any]):
    rules = serializers.ListField(child=FiredRuleSerializer())
    stopped_by = serializers.CharField(allow_null=True)
    severity_assessment = AssessmentSerializer()
    category = RoutingRefSerializer(allow_null=True)
    category_why = serializers.CharField()
    severity = serializers.CharField()
    severity_why = serializers.CharField()
    tier = serializers.CharField()
    tier_why = serializers.CharField()
    team = RoutingRefSerializer(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    required_skill = serializers.CharField(allow_null=True)
    suggestion = SuggestionSerializer(allow_null=True)
    agent = RoutingRefSerializer(allow_null=True)
    explanation = serializers.CharField()
    candidates = CandidateSerializer(many=True)


# ---------------------------------------------------------------- decisions


class DecisionSerializer(serializers.ModelSerializer[RoutingDecision]):
    actor = RoutingPersonSerializer(allow_null=True)
    category = RoutingRefSerializer(allow_null=True)
    team = RoutingRefSerializer(allow_null=True)
    assignee = RoutingPersonSerializer(allow_null=True)
    rules = FiredRuleSerializer(many=True)
    severity_assessment = serializers.JSONField()
    suggestion = SuggestionSerializer(allow_null=True)
    candidates = CandidateSerializer(many=True)
    before = serializers.JSONField()

    class Meta:
        model = RoutingDecision
        fields: tuple[str, ...] = (
            "id", "trigger", "actor", "created_at", "rules_ran", "rules", "stopped_by",
            "severity_assessment", "suggestion", "before", "category", "category_why",
            "severity", "severity_why", "tier", "tier_why", "team", "tags_added", "candidates",
            "assignee", "outcome", "explanation", "duration_ms",
        )  # fmt: skip
        read_only_fields = fields


class DecisionSummarySerializer(serializers.ModelSerializer[RoutingDecision]):
    assignee = RoutingPersonSerializer(allow_null=True)

    class Meta:
        model = RoutingDecision
        fields: tuple[str, ...] = ("id", "trigger", "created_at", "outcome", "tier", "assignee")
        read_only_fields = fields


class EscalationSerializer(serializers.ModelSerializer[TierEscalation]):
    actor = RoutingPersonSerializer(allow_null=True)

    class Meta:
        model = TierEscalation
        fields: tuple[str, ...] = (
            "id", "direction", "from_tier", "to_tier", "reason", "actor", "created_at",
        )  # fmt: skip
        read_only_fields = fields


class WaitingSerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    tier = serializers.CharField()
    reason = serializers.CharField()


class TicketRoutingSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField()
    tier = serializers.CharField()
    assignee = RoutingPersonSerializer(allow_null=True)
    waiting = WaitingSerializer(allow_null=True)
    decision = DecisionSerializer(allow_null=True)
    history = DecisionSummarySerializer(many=True)
    escalations = EscalationSerializer(many=True)


class EscalateInputSerializer(StrictSerializer):
    direction = serializers.ChoiceField(choices=TierEscalation.Direction.choices)
    reason = serializers.CharField(max_length=2000)


class WaitingTicketSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField(source="ticket.reference")
    subject = serializers.CharField(source="ticket.subject")
    tier = serializers.CharField()
    team = RoutingRefSerializer(allow_null=True)
    since = serializers.DateTimeField()
    reason = serializers.CharField()


# ---------------------------------------------------------------- configuration


class SkillSerializer(serializers.ModelSerializer[Skill]):
    class Meta:
        model = Skill
        fields = ("id", "name", "slug")
        read_only_fields = ("id",)


class SkillInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=100)


class CategorySerializer(serializers.ModelSerializer[Category]):
    required_skill = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ("id", "name", "slug", "parent", "default_tier", "active", "required_skill")
        read_only_fields = fields

    def get_required_skill(self, category: Category) -> str | None:
        routing = getattr(category, "routing", None)
        skill = routing.required_skill if routing else None
        return skill.slug if skill else None


class CategoryInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=100)
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]  # a field
        queryset=Category.objects.all(), allow_null=True, required=False
    )
    default_tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    active = serializers.BooleanField(required=False)
    required_skill = serializers.SlugRelatedField(
        slug_field="slug", queryset=Skill.objects.all(), allow_null=True, required=False
    )


class TeamSerializer(serializers.ModelSerializer[Team]):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ("id", "name", "tier", "members")
        read_only_fields = fields

    def get_members(self, team: Team) -> list[dict[str, Any]]:
        return [{"id": m.user_id, "name": m.user.display_name} for m in team.members.all()]


class TeamInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    tier = serializers.ChoiceField(choices=Tier.choices)
    members = serializers.ListField(child=serializers.IntegerField(), required=False)


class AgentProfileSerializer(serializers.ModelSerializer[AgentProfile]):
    agent = RoutingPersonSerializer(source="user")
    email = serializers.EmailField(source="user.email")
    skills: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    teams: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )
    substitute = serializers.SerializerMethodField()

    class Meta:
        model = AgentProfile
        fields: tuple[str, ...] = (
            "agent", "email", "tier_level", "skills", "teams", "max_open_tickets", "time_zone",
            "work_days", "work_starts", "work_ends", "status", "substitute", "last_assigned_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_substitute(self, profile: AgentProfile) -> dict[str, Any] | None:
        if profile.substitute is None:
            return None
        return {"id": profile.substitute.user_id, "name": profile.substitute.user.display_name}


class AgentProfileInputSerializer(StrictSerializer):
    agent = serializers.IntegerField(required=False, help_text="The agent's user id (create).")
    tier_level = serializers.IntegerField(min_value=1, max_value=4, required=False)
    skills = serializers.ListField(child=serializers.SlugField(), required=False)
    max_open_tickets = serializers.IntegerField(min_value=0, max_value=1000, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    work_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False
    )
    work_starts = serializers.TimeField(allow_null=True, required=False)
    work_ends = serializers.TimeField(allow_null=True, required=False)
    status = serializers.ChoiceField(choices=AgentProfile.Status.choices, required=False)
    substitute = serializers.IntegerField(
        allow_null=True, required=False, help_text="The substitute's user id."
    )
