from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/metrics/", views.MetricsApi.as_view(), name="report-metrics"),
    path("reports/dashboards/<str:key>/", views.DashboardApi.as_view(), name="report-dashboard"),
]
