from django.urls import path

from web.portal import views
from web.portal.views import incidents as incident_views
from web.portal.views import kb as kb_views
from web.portal.views import reports as report_views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("community/", views.switch_community, name="switch"),
    path("new/", views.new_request, name="new"),
    path("approvals/", views.approvals, name="approvals"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<str:reference>/transition/", views.ticket_transition_view, name="transition"),
    path("tickets/<str:reference>/rate/", views.ticket_rate, name="rate"),
    path("survey/<str:token>/", views.survey, name="survey"),
    path("reports/", report_views.reports, name="reports"),
    path("reports/<str:table>.csv", report_views.export, name="reports_export"),
    path("reports/<slug:slug>/", report_views.reports, name="community_report"),
    path(
        "reports/<slug:slug>/<str:table>.csv", report_views.export, name="community_report_export"
    ),
    path("incidents/", incident_views.incidents, name="incidents"),
    path("incidents/<int:incident_id>/", incident_views.incident, name="incident"),
    path("kb/", kb_views.kb_home, name="kb"),
    path("kb/suggest/", kb_views.kb_suggest, name="kb_suggest"),
    path("kb/categories/<slug:slug>/", kb_views.kb_category, name="kb_category"),
    path("kb/<slug:slug>/", kb_views.kb_article, name="kb_article"),
    path("kb/<slug:slug>/feedback/", kb_views.kb_feedback, name="kb_feedback"),
    path("kb/<slug:slug>/answered/", kb_views.kb_answered, name="kb_answered"),
]
