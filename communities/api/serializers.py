from __future__ import annotations

from typing import Any

from rest_framework import serializers

from communities.models import Community, Membership, ServicePlan, SupportBudget


class ServicePlanSerializer(serializers.ModelSerializer[ServicePlan]):
    class Meta:
        model = ServicePlan
        fields = (
            "id", "name", "slug", "position", "uptime_guarantee", "downtime_credit_percent",
            "maintenance_window", "description",
        )  # fmt: skip
        read_only_fields = ("id",)


class CommunitySerializer(serializers.ModelSerializer[Community]):
    service_plan: serializers.SlugRelatedField[ServicePlan] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Community
        fields = ("slug", "name", "time_zone", "service_plan", "active", "created_at")
        read_only_fields = fields


class CommunityWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60)
    time_zone = serializers.CharField(max_length=64, default="UTC")
    service_plan = serializers.SlugRelatedField(
        slug_field="slug", queryset=ServicePlan.objects.all()
    )
    active = serializers.BooleanField(default=True)


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    community: serializers.SlugRelatedField[Community] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    user = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ("id", "community", "user", "role", "created_at")
        read_only_fields = fields

    def get_user(self, membership: Membership) -> dict[str, Any]:
        return {
            "id": membership.user.pk,
            "name": membership.user.display_name,
            "email": membership.user.email,
        }


class MembershipCreateSerializer(serializers.Serializer[Any]):
    community = serializers.SlugField()
    user = serializers.EmailField(help_text="Email of an existing person.")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class MembershipUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class BudgetSerializer(serializers.Serializer[Any]):
    period = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    budget_hours = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
    used_hours = serializers.DecimalField(max_digits=9, decimal_places=2)
    left_hours = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)


class BudgetWriteSerializer(serializers.Serializer[Any]):
    hours = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=0)
    period = serializers.ChoiceField(choices=SupportBudget.Period.choices)


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    email = serializers.EmailField()
    name = serializers.CharField(source="display_name")
    time_zone = serializers.CharField()
    is_agent = serializers.BooleanField(source="is_staff")
    memberships = serializers.SerializerMethodField()

    def get_memberships(self, user: Any) -> list[dict[str, str]]:
        return [
            {"community": m.community.slug, "name": m.community.name, "role": m.role}
            for m in user.memberships.select_related("community").order_by("community__name")
        ]
