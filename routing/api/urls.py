from django.urls import path
from rest_framework.routers import SimpleRouter

from routing.api import views

router = SimpleRouter()
router.register("routing/rules", views.RuleViewSet, basename="routing-rule")
router.register("routing/skills", views.SkillViewSet, basename="routing-skill")
router.register("routing/categories", views.CategoryViewSet, basename="routing-category")
router.register("routing/teams", views.TeamViewSet, basename="routing-team")
router.register("routing/agents", views.AgentProfileViewSet, basename="routing-agent")

urlpatterns = [
    # Before the router, so that "test" is not read as a rule's id.
    path("routing/rules/test/", views.RuleTestApi.as_view(), name="routing-rules-test"),
    path("routing/waiting/", views.WaitingApi.as_view(), name="routing-waiting"),
    *router.urls,
    path(
        "tickets/<str:reference>/routing/",
        views.TicketRoutingApi.as_view(),
        name="ticket-routing",
    ),
    path(
        "tickets/<str:reference>/escalate/",
        views.TicketEscalateApi.as_view(),
        name="ticket-escalate",
    ),
    path(
        "tickets/<str:reference>/reroute/",
        views.TicketRerouteApi.as_view(),
        name="ticket-reroute",
    ),
]
