"""Writes to routing's configuration: skills, categories' skills, teams, agent profiles and
rules. The admin, the API, the demo seeder and the tests all call these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import time as clock
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.services import model_update
from routing import matching
from routing.errors import NotAnAgent
from routing.models import AgentProfile, CategoryRouting, RoutingRule, Skill, Team
from tickets.models import Category
from tickets.services.categories import CATEGORY_FIELDS, category_create, category_update
from tickets.services.common import is_agent
from tickets.services.lifecycle import normalise_tags

if TYPE_CHECKING:
    from communities.models import Community, ServicePlan
    from core.models import User


# ---------------------------------------------------------------- skills


def skill_create(*, name: str, slug: str) -> Skill:
    skill = Skill(name=name.strip(), slug=slug)
    skill.full_clean()
    skill.save()
    return skill


def skill_update(*, skill: Skill, data: dict[str, Any]) -> Skill:
    skill, _ = model_update(instance=skill, fields=("name", "slug"), data=data)
    return skill


# ---------------------------------------------------------------- categories


def category_routing_set(*, category: Category, required_skill: Skill | None) -> CategoryRouting:
    """The skill an agent needs to take tickets of `category` (None: anyone may)."""
    routing, created = CategoryRouting.objects.get_or_create(
        category=category, defaults={"required_skill": required_skill}
    )
    if not created and routing.required_skill_id != (required_skill.pk if required_skill else None):
        routing.required_skill = required_skill
        routing.save(update_fields=["required_skill"])
    return routing


def routing_category_create(
    *,
    name: str,
    slug: str,
    parent: Category | None = None,
    default_tier: str = "community",
    active: bool = True,
    required_skill: Skill | None = None,
) -> Category:
    """A category (tickets' service) together with the skill it needs."""
    with transaction.atomic():
        category = category_create(
            name=name, slug=slug, parent=parent, default_tier=default_tier, active=active
        )
        category_routing_set(category=category, required_skill=required_skill)
    return category


_UNSET: Any = object()


def routing_category_update(
    *, category: Category, data: dict[str, Any], required_skill: Skill | None = _UNSET
) -> Category:
    with transaction.atomic():
        category = category_update(
            category=category, data={k: v for k, v in data.items() if k in CATEGORY_FIELDS}
        )
        if required_skill is not _UNSET:
            category_routing_set(category=category, required_skill=required_skill)
    return category


# ---------------------------------------------------------------- teams


def team_create(*, name: str, tier: str, members: Iterable[AgentProfile] = ()) -> Team:
    with transaction.atomic():
        team = Team(name=name.strip(), tier=tier)
        team.full_clean()
        team.save()
        team.members.set(list(members))
    return team


def team_update(
    *, team: Team, data: dict[str, Any], members: Iterable[AgentProfile] | None = None
) -> Team:
    with transaction.atomic():
        team, _ = model_update(instance=team, fields=("name", "tier"), data=data)
        if members is not None:
            team.members.set(list(members))
    return team


# ---------------------------------------------------------------- agent profiles

PROFILE_FIELDS = (
    "tier_level", "max_open_tickets", "time_zone", "work_days", "work_starts", "work_ends",
    "status", "substitute",
)  # fmt: skip


def agent_profile_create(
    *,
    user: User,
    tier_level: int = 1,
    skills: Iterable[Skill] = (),
    max_open_tickets: int = 10,
    time_zone: str = "UTC",
    work_days: Sequence[int] = (),
    work_starts: clock | None = None,
    work_ends: clock | None = None,
    status: str = AgentProfile.Status.AVAILABLE,
    substitute: AgentProfile | None = None,
) -> AgentProfile:
    if not is_agent(user):
        raise NotAnAgent(f"{user} is not an active agent (staff).", field="user")
    with transaction.atomic():
        profile = AgentProfile(
            user=user,
            tier_level=tier_level,
            max_open_tickets=max_open_tickets,
            time_zone=time_zone,
            work_days=sorted(set(work_days)),
            work_starts=work_starts,
            work_ends=work_ends,
            status=status,
            substitute=substitute,
        )
        profile.full_clean()
        profile.save()
        profile.skills.set(list(skills))
        _room_may_have_opened(profile)
    return profile


def agent_profile_update(
    *, profile: AgentProfile, data: dict[str, Any], skills: Iterable[Skill] | None = None
) -> AgentProfile:
    """Change a profile. An agent who becomes available, takes more tickets, gains a skill
    or changes tier may take waiting tickets: routing is told (`agent.capacity_changed`)."""
    data = dict(data)
    if "work_days" in data:
        data["work_days"] = sorted(set(data["work_days"]))
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().get(pk=profile.pk)
        before = (profile.status, profile.max_open_tickets, profile.tier_level)
        profile, changed = model_update(instance=profile, fields=PROFILE_FIELDS, data=data)
        added_skill = False
        if skills is not None:
            wanted = {s.pk for s in skills}
            current = set(profile.skills.values_list("pk", flat=True))
            if wanted != current:
                profile.skills.set(list(wanted))
                added_skill = bool(wanted - current)
        status, capacity, tier = before
        if added_skill or (
            profile.status == AgentProfile.Status.AVAILABLE
            and (
                status != AgentProfile.Status.AVAILABLE
                or profile.max_open_tickets > capacity
                or profile.tier_level != tier
                or "work_starts" in changed
                or "work_days" in changed
            )
        ):
            _room_may_have_opened(profile)
    return profile


def agent_status_set(*, profile: AgentProfile, status: str) -> AgentProfile:
    return agent_profile_update(profile=profile, data={"status": status})


def _room_may_have_opened(profile: AgentProfile) -> None:
    if profile.status == AgentProfile.Status.AVAILABLE:
        outbox.publish("agent.capacity_changed", agent_id=profile.user_id)


# ---------------------------------------------------------------- rules

RULE_FIELDS = (
    "name", "position", "active", "keywords", "negative_keywords", "match_in", "channels",
    "kinds", "requester_is_representative", "set_category", "raise_severity",
    "override_severity", "set_tier", "set_team", "add_tags", "stop_processing",
)  # fmt: skip
CONDITION_FIELDS = (
    "keywords", "negative_keywords", "communities", "service_plans", "channels", "kinds",
    "requester_is_representative",
)  # fmt: skip
ACTION_FIELDS = (
    "set_category", "raise_severity", "set_tier", "set_team", "add_tags", "stop_processing",
)  # fmt: skip


def _clean_rule_data(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[ValidationError]] = {}
    for name in ("keywords", "negative_keywords"):
        if name in data:
            try:
                data[name] = matching.clean_keywords(data[name])
            except matching.KeywordError as error:
                errors[name] = [ValidationError(str(error), code="keyword_invalid")]
    if "add_tags" in data:
        try:
            data["add_tags"] = normalise_tags(data["add_tags"])
        except ValidationError as error:
            errors["add_tags"] = error.error_dict["tags"]
    for name in ("channels", "kinds"):
        if name in data:
            data[name] = sorted(set(data[name]))
    if errors:
        raise ValidationError(errors)
    return data


def _check_rule(
    rule: RoutingRule, communities: Sequence[Community], service_plans: Sequence[ServicePlan]
) -> None:
    has_condition = bool(
        rule.keywords
        or rule.negative_keywords
        or communities
        or service_plans
        or rule.channels
        or rule.kinds
        or rule.requester_is_representative is not None
    )
    has_action = bool(
        rule.set_category_id
        or rule.raise_severity
        or rule.set_tier
        or rule.set_team_id
        or rule.add_tags
        or rule.stop_processing
    )
    errors: dict[str, list[ValidationError]] = {}
    if not has_condition:
        errors["non_field_errors"] = [
            ValidationError(
                "A rule needs at least one condition (keywords, community, service plan, "
                "channel, kind or requester).",
                code="rule_without_condition",
            )
        ]
    if not has_action:
        errors.setdefault("non_field_errors", []).append(
            ValidationError(
                "A rule needs at least one action (category, severity, tier, team, tags or "
                "stop processing).",
                code="rule_without_action",
            )
        )
    if rule.override_severity and not rule.raise_severity:
        errors["override_severity"] = [
            ValidationError("Override needs a severity to set.", code="override_without_severity")
        ]
    if errors:
        raise ValidationError(errors)
    rule.full_clean()


def rule_validate(
    *,
    data: dict[str, Any],
    communities: Sequence[Community] = (),
    service_plans: Sequence[ServicePlan] = (),
) -> None:
    """The checks rule_create and rule_update make, without saving (forms call it)."""
    cleaned = _clean_rule_data({k: v for k, v in data.items() if k in RULE_FIELDS})
    rule = RoutingRule(**cleaned)
    _check_rule(rule, communities, service_plans)


def rule_create(
    *,
    name: str,
    position: int = 100,
    active: bool = True,
    keywords: Sequence[str] = (),
    negative_keywords: Sequence[str] = (),
    match_in: str = RoutingRule.MatchIn.BOTH,
    communities: Sequence[Community] = (),
    service_plans: Sequence[ServicePlan] = (),
    channels: Sequence[str] = (),
    kinds: Sequence[str] = (),
    requester_is_representative: bool | None = None,
    set_category: Category | None = None,
    raise_severity: str = "",
    override_severity: bool = False,
    set_tier: str = "",
    set_team: Team | None = None,
    add_tags: Sequence[str] = (),
    stop_processing: bool = False,
) -> RoutingRule:
    """A new rule. Raises ValidationError (by field) for a rule without a condition or an
    action, a malformed keyword, or an override without a severity; nothing is saved."""
    data = _clean_rule_data(
        {
            "keywords": list(keywords),
            "negative_keywords": list(negative_keywords),
            "add_tags": list(add_tags),
            "channels": list(channels),
            "kinds": list(kinds),
        }
    )
    rule = RoutingRule(
        name=name.strip(),
        position=position,
        active=active,
        match_in=match_in,
        requester_is_representative=requester_is_representative,
        set_category=set_category,
        raise_severity=raise_severity,
        override_severity=override_severity,
        set_tier=set_tier,
        set_team=set_team,
        stop_processing=stop_processing,
        **data,
    )
    _check_rule(rule, communities, service_plans)
    with transaction.atomic():
        rule.save()
        rule.communities.set(list(communities))
        rule.service_plans.set(list(service_plans))
    return rule


def rule_update(
    *,
    rule: RoutingRule,
    data: dict[str, Any],
    communities: Sequence[Community] | None = None,
    service_plans: Sequence[ServicePlan] | None = None,
) -> RoutingRule:
    """Change the fields in `data` (and the communities / plans when given); the same
    checks as rule_create apply to the result. Nothing is saved when it is refused."""
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(
            {f: ValidationError("This field cannot be changed.", code="read_only") for f in unknown}
        )
    data = _clean_rule_data(data)
    with transaction.atomic():
        rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
        for name, value in data.items():
            setattr(rule, name, value)
        final_communities = (
            list(rule.communities.all()) if communities is None else list(communities)
        )
        final_plans = (
            list(rule.service_plans.all()) if service_plans is None else list(service_plans)
        )
        _check_rule(rule, final_communities, final_plans)
        rule.updated_at = timezone.now()
        rule.save()
        if communities is not None:
            rule.communities.set(final_communities)
        if service_plans is not None:
            rule.service_plans.set(final_plans)
    return rule


def rule_delete(*, rule: RoutingRule) -> None:
    """Delete a rule; its past hits stay in the decisions that recorded them."""
    rule.delete()
