from django.urls import path

from knowledgebase.search.api import views

urlpatterns = [
    path("kb/search/", views.SearchApi.as_view(), name="kb-search"),
    path("kb/suggest/", views.SuggestApi.as_view(), name="kb-suggest"),
    path(
        "kb/searches/<int:search_id>/opened/",
        views.SearchOpenedApi.as_view(),
        name="kb-search-opened",
    ),
    path(
        "kb/searches/<int:search_id>/answered/",
        views.SearchOpenedApi.as_view(answered=True),
        name="kb-search-answered",
    ),
]
