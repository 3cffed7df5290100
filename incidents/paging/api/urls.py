from django.urls import path

from incidents.paging.api import figures, views

urlpatterns = [
    path("pages/figures/", figures.PageFiguresApi.as_view(), name="page-figures"),
    path("pages/", views.PageListApi.as_view(), name="page-list"),
    path("pages/alertmanager/", views.AlertmanagerApi.as_view(), name="page-alertmanager"),
    path("pages/<int:page_id>/", views.PageDetailApi.as_view(), name="page-detail"),
    path(
        "pages/<int:page_id>/acknowledge/",
        views.PageAcknowledgeApi.as_view(),
        name="page-acknowledge",
    ),
    path(
        "pages/<int:page_id>/unacknowledge/",
        views.PageUnacknowledgeApi.as_view(),
        name="page-unacknowledge",
    ),
    path("pages/<int:page_id>/resolve/", views.PageResolveApi.as_view(), name="page-resolve"),
    path("pages/<int:page_id>/silence/", views.PageSilenceApi.as_view(), name="page-silence"),
]
