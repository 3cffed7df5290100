from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.auth import TokenObtainApi
from reports import prometheus
from supportdesk import health

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenObtainApi.as_view(), name="auth-token"),
    path("", include("communities.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("tickets.mail.urls")),
    path("", include("routing.api.urls")),
    path("", include("slas.api.urls")),
    path("", include("incidents.paging.api.urls")),
    path("", include("reports.api.urls")),
    path("", include("knowledgebase.api.urls")),
    path("", include("knowledgebase.search.api.urls")),
    path("", include("incidents.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path(
        "favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True)
    ),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics_view, name="prometheus-metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api-auth/", include("rest_framework.urls")),
    path("page-links/", include("incidents.paging.urls")),
    path("oncall/", include("incidents.oncall.urls")),
    path("", include("web.urls")),
]

admin.site.site_header = "Support Desk administration"
admin.site.site_title = "Support Desk"
if settings.DEBUG:
    admin.site.site_url = "/"
