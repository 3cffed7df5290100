"""Categories and articles in the admin, with their history (versions, who and when).

Articles change through the same services as the desk: saving the form calls
article_create / article_update, and the status moves only by the workflow actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from core.errors import ApplicationError
from knowledgebase import services
from knowledgebase.models import Article, ArticleFeedback, Category, ReviewReminder


@admin.register(Category)
class CategoryAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "slug", "parent", "position")
    list_editable = ("position",)
    list_filter = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}  # noqa: RUF012


_CONTENT = (
    "title", "slug", "summary", "body", "kind", "audience", "communities", "category", "tags",
    "owner", "review_by",
)  # fmt: skip


@admin.register(Article)
class ArticleAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = (
        "title", "status", "kind", "audience", "category", "owner", "review_by", "view_count",
        "helpful_yes", "helpful_no",
    )  # fmt: skip
    list_filter = ("status", "kind", "audience", "category")
    search_fields = ("title", "slug", "summary")
    autocomplete_fields = ("communities",)
    raw_id_fields = ("linked_tickets",)
    readonly_fields = (
        "status", "author", "reviewer", "created_at", "updated_at", "submitted_at",
        "published_at", "view_count", "helpful_yes", "helpful_no",
    )  # fmt: skip
    fields = (*_CONTENT, "linked_tickets", *readonly_fields)
    actions = ("submit", "approve", "archive")  # noqa: RUF012

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return super().get_queryset(request).select_related("category", "owner")  # type: ignore[no-any-return]

    def save_model(
        self, request: HttpRequest, obj: Article, form: ModelForm[Article], change: bool
    ) -> None:
        data = {name: form.cleaned_data[name] for name in _CONTENT if name in form.cleaned_data}
        data["communities"] = list(data.get("communities") or [])
        data["linked_tickets"] = list(form.cleaned_data.get("linked_tickets") or [])
        if change:
            services.article_update(article=obj.pk, actor=request.user, data=data)  # type: ignore[arg-type]
        else:
            created = services.article_create(actor=request.user, data=data)  # type: ignore[arg-type]
            obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:  # the services set the many-to-many fields
            self.save_formset(request, form, formset, change=change)

    def _apply(self, request: HttpRequest, queryset: QuerySet[Article], name: str) -> None:
        done = 0
        for article in queryset:
            try:
                services.article_transition(article=article, name=name, actor=request.user)  # type: ignore[arg-type]
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{article}: {error.message}", messages.WARNING)
        self.message_user(request, f"{done} article(s) changed.")

    @admin.action(description="Send for review")
    def submit(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._apply(request, queryset, "submit")

    @admin.action(description="Approve and publish (not your own)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._apply(request, queryset, "approve")

    @admin.action(description="Archive")
    def archive(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._apply(request, queryset, "archive")


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin[ArticleFeedback]):
    list_display = ("article", "helpful", "comment", "user", "created_at")
    list_filter = ("helpful",)
    search_fields = ("article__title", "comment")
    list_select_related = ("article", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReviewReminder)
class ReviewReminderAdmin(admin.ModelAdmin[ReviewReminder]):
    list_display = ("article", "owner", "period_start", "sent_at")
    list_select_related = ("article", "owner")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
