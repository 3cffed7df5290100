from django.urls import path

from incidents.api import views

urlpatterns = [
    path("incidents/", views.IncidentListApi.as_view(), name="incident-list"),
    path("incidents/<int:incident_id>/", views.IncidentDetailApi.as_view(), name="incident-detail"),
    path(
        "incidents/<int:incident_id>/transition/",
        views.IncidentTransitionApi.as_view(),
        name="incident-transition",
    ),
    path(
        "incidents/<int:incident_id>/updates/",
        views.IncidentUpdatesApi.as_view(),
        name="incident-updates",
    ),
    path(
        "incidents/<int:incident_id>/timeline/",
        views.IncidentTimelineApi.as_view(),
        name="incident-timeline",
    ),
    path(
        "incidents/<int:incident_id>/roles/",
        views.IncidentRolesApi.as_view(),
        name="incident-roles",
    ),
    path(
        "incidents/<int:incident_id>/links/",
        views.IncidentLinksApi.as_view(),
        name="incident-links",
    ),
    path(
        "incidents/<int:incident_id>/postmortem/",
        views.PostmortemApi.as_view(),
        name="incident-postmortem",
    ),
    path(
        "incidents/<int:incident_id>/action-items/",
        views.ActionItemsApi.as_view(),
        name="incident-action-items",
    ),
    path(
        "incidents/<int:incident_id>/action-items/<int:item_id>/",
        views.ActionItemDetailApi.as_view(),
        name="incident-action-item",
    ),
    path(
        "communities/<slug:slug>/uptime/",
        views.CommunityUptimeApi.as_view(),
        name="community-uptime",
    ),
]
