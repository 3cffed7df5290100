"""The admin writes through routing's services, like every other caller. It also offers
"Test these rules": a subject and text in, the rules that fire and the result out, nothing
saved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from communities.models import Community
from core.admin import ReadOnlyAdmin, adopt_saved
from routing.models import (
    AgentProfile,
    CategoryRouting,
    RoutingDecision,
    RoutingRule,
    Skill,
    Team,
    TierEscalation,
    WaitingTicket,
)
from routing.services import config
from routing.services.routing import rules_test
from tickets.models import Channel, Severity, TicketKind


@admin.register(Skill)
class SkillAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def save_model(
        self, request: HttpRequest, obj: Skill, form: forms.ModelForm[Skill], change: bool
    ) -> None:
        data = {"name": form.cleaned_data["name"], "slug": form.cleaned_data["slug"]}
        if change:
            config.skill_update(skill=Skill.objects.get(pk=obj.pk), data=data)
        else:
            adopt_saved(obj, config.skill_create(**data))


@admin.register(CategoryRouting)
class CategoryRoutingAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("category", "required_skill")
    list_select_related = ("category", "required_skill")

    def save_model(
        self,
        request: HttpRequest,
        obj: CategoryRouting,
        form: forms.ModelForm[CategoryRouting],
        change: bool,
    ) -> None:
        saved = config.category_routing_set(
            category=form.cleaned_data["category"],
            required_skill=form.cleaned_data["required_skill"],
        )
        adopt_saved(obj, saved)


class _ServiceM2MAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """The service saves the many-to-many fields along with the row."""

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Team)
class TeamAdmin(_ServiceM2MAdmin):
    list_display = ("name", "tier")
    list_filter = ("tier",)
    filter_horizontal = ("members",)

    def save_model(
        self, request: HttpRequest, obj: Team, form: forms.ModelForm[Team], change: bool
    ) -> None:
        members = list(form.cleaned_data["members"])
        data = {"name": form.cleaned_data["name"], "tier": form.cleaned_data["tier"]}
        if change:
            config.team_update(team=Team.objects.get(pk=obj.pk), data=data, members=members)
        else:
            adopt_saved(obj, config.team_create(**data, members=members))


@admin.register(AgentProfile)
class AgentProfileAdmin(_ServiceM2MAdmin):
    list_display = ("user", "tier_level", "status", "max_open_tickets", "substitute")
    list_filter = ("tier_level", "status", "skills")
    list_select_related = ("user", "substitute__user")
    filter_horizontal = ("skills",)
    readonly_fields = ("last_assigned_at",)
    autocomplete_fields = ("user",)

    def save_model(
        self,
        request: HttpRequest,
        obj: AgentProfile,
        form: forms.ModelForm[AgentProfile],
        change: bool,
    ) -> None:
        data = {f: form.cleaned_data[f] for f in config.PROFILE_FIELDS if f in form.cleaned_data}
        skills = list(form.cleaned_data.get("skills", []))
        if change:
            config.agent_profile_update(
                profile=AgentProfile.objects.get(pk=obj.pk), data=data, skills=skills
            )
        else:
            adopt_saved(
                obj,
                config.agent_profile_create(user=form.cleaned_data["user"], skills=skills, **data),
            )


class RuleForm(forms.ModelForm[RoutingRule]):
    class Meta:
        model = RoutingRule
        fields = (*config.RULE_FIELDS, "communities", "service_plans")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            config.rule_validate(
                data={f: data[f] for f in config.RULE_FIELDS if f in data},
                communities=list(data.get("communities") or []),
                service_plans=list(data.get("service_plans") or []),
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                self.add_error(None if field not in self.fields else field, problems)
        return data


@admin.register(RoutingRule)
class RoutingRuleAdmin(_ServiceM2MAdmin):
    form = RuleForm
    list_display = ("name", "position", "active", "keywords", "set_category", "set_tier", "hits")
    list_filter = ("active", "set_tier", "set_category")
    list_select_related = ("set_category",)
    search_fields = ("name",)
    filter_horizontal = ("communities", "service_plans")
    actions = ("switch_on", "switch_off")
    change_list_template = "admin/routing/routingrule/change_list.html"
    fieldsets = (
        (None, {"fields": ("name", "position", "active")}),
        (
            "Conditions (all that are set must hold)",
            {
                "fields": (
                    "keywords",
                    "negative_keywords",
                    "match_in",
                    "communities",
                    "service_plans",
                    "channels",
                    "kinds",
                    "requester_is_representative",
                )
            },
        ),  # fmt: skip
        (
            "Actions",
            {
                "fields": (
                    "set_category",
                    "raise_severity",
                    "override_severity",
                    "set_tier",
                    "set_team",
                    "add_tags",
                    "stop_processing",
                )
            },
        ),  # fmt: skip
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        since = timezone.now() - timedelta(days=30)
        rules: QuerySet[RoutingRule] = super().get_queryset(request)
        return rules.annotate(hits_30d=Count("hits", filter=Q(hits__created_at__gte=since)))

    @admin.display(description="hits (30 days)", ordering="hits_30d")
    def hits(self, rule: RoutingRule) -> int:
        return int(getattr(rule, "hits_30d", 0))

    def save_model(
        self,
        request: HttpRequest,
        obj: RoutingRule,
        form: forms.ModelForm[RoutingRule],
        change: bool,
    ) -> None:
        data = {f: form.cleaned_data[f] for f in config.RULE_FIELDS if f in form.cleaned_data}
        communities = list(form.cleaned_data.get("communities") or [])
        plans = list(form.cleaned_data.get("service_plans") or [])
        if change:
            config.rule_update(
                rule=RoutingRule.objects.get(pk=obj.pk),
                data=data,
                communities=communities,
                service_plans=plans,
            )
        else:
            adopt_saved(
                obj, config.rule_create(**data, communities=communities, service_plans=plans)
            )

    def delete_model(self, request: HttpRequest, obj: RoutingRule) -> None:
        config.rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoutingRule]) -> None:
        for rule in queryset:
            config.rule_delete(rule=rule)

    @admin.action(description="Switch the selected rules on")
    def switch_on(self, request: HttpRequest, queryset: QuerySet[RoutingRule]) -> None:
        for rule in queryset:
            config.rule_update(rule=rule, data={"active": True})
        self.message_user(request, "Switched on.", messages.SUCCESS)

    @admin.action(description="Switch the selected rules off")
    def switch_off(self, request: HttpRequest, queryset: QuerySet[RoutingRule]) -> None:
        for rule in queryset:
            config.rule_update(rule=rule, data={"active": False})
        self.message_user(request, "Switched off.", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        test = path(
            "test/",
            self.admin_site.admin_view(self.test_rules_view),
            name="routing_routingrule_test",
        )
        return [test, *super().get_urls()]

    def test_rules_view(self, request: HttpRequest) -> HttpResponse:
        form = RuleTestForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            result = rules_test(
                subject=data["subject"],
                description=data["description"],
                community=data["community"],
                channel=data["channel"],
                kind=data["kind"],
                severity=data["severity"],
                requester_is_representative=data["requester_is_representative"],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Test these rules",
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/routing/routingrule/test_rules.html", context)


class RuleTestForm(forms.Form):
    subject = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    community = forms.ModelChoiceField(queryset=Community.objects.all(), required=False)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.PORTAL)
    kind = forms.ChoiceField(choices=TicketKind.choices, initial=TicketKind.QUESTION)
    severity = forms.ChoiceField(
        choices=Severity.choices, initial=Severity.MEDIUM, help_text="As the requester chose it."
    )
    requester_is_representative = forms.BooleanField(required=False, initial=True)


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "trigger", "outcome", "tier", "severity", "assignee", "created_at")
    list_filter = ("trigger", "outcome", "tier")
    list_select_related = ("ticket", "assignee")
    date_hierarchy = "created_at"


@admin.register(WaitingTicket)
class WaitingTicketAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "tier", "team", "since", "reason")
    list_filter = ("tier",)
    list_select_related = ("ticket", "team")


@admin.register(TierEscalation)
class TierEscalationAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "from_tier", "to_tier", "actor", "reason", "created_at")
    list_select_related = ("ticket", "actor")
