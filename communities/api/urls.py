from django.urls import path
from rest_framework.routers import SimpleRouter

from communities.api import views

router = SimpleRouter()
router.register("service-plans", views.ServicePlanViewSet, basename="service-plan")
router.register("communities", views.CommunityViewSet, basename="community")
router.register("memberships", views.MembershipViewSet, basename="membership")

urlpatterns = [
    *router.urls,
    path("me/", views.MeApi.as_view(), name="me"),
]
