from rest_framework.routers import SimpleRouter

from knowledgebase.api import views

router = SimpleRouter()
router.register("kb/categories", views.CategoryViewSet, basename="kb-category")
router.register("kb/articles", views.ArticleViewSet, basename="kb-article")

urlpatterns = [*router.urls]
