from django.urls import path

from web.portal import views

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
]
