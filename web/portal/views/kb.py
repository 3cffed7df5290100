"""The portal's knowledge base: home by category (with search), an article with "Was this
helpful?" and "This answered my question", and the live suggestions of the new-request form.

Articles come only through `articles_visible_to` (published ones, here); anonymous visitors
read public articles when KB_ANONYMOUS_READ is on. Search and suggestions are the search
service's (knowledgebase.search.services), which applies the same scope.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from knowledgebase import services
from knowledgebase.models import Article, Category
from knowledgebase.selectors import articles_visible_to
from knowledgebase.states import ArticleStatus
from web.portal.views.common import portal_context

View = TypeVar("View", bound=Callable[..., HttpResponse])
PER_CATEGORY = 8
VIEWED_KEY = "kb_viewed"
VIEWED_KEEP = 200
MIN_SUGGEST_LENGTH = 4


def kb_reader(view: View) -> View:
    """Signed-in people, and anonymous visitors when KB_ANONYMOUS_READ is on."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and not getattr(settings, "KB_ANONYMOUS_READ", False):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def _place(request: HttpRequest) -> Any:
    if not request.user.is_authenticated:
        return None
    from web.portal.place import portal_place

    return portal_place(request)


def _published(request: HttpRequest) -> QuerySet[Article]:
    return articles_visible_to(request.user).filter(status=ArticleStatus.PUBLISHED)


def _search_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@kb_reader
@require_GET
def kb_home(request: HttpRequest) -> HttpResponse:
    """Categories in order, each with its most-read articles; with `q`, the search's
    ranked results instead."""
    q = request.GET.get("q", "").strip()
    result = None
    error = ""
    if q:
        try:
            from knowledgebase.search.services import search

            page = request.GET.get("page", "1")
            result = search(user=request.user, q=q, page=int(page) if page.isdigit() else 1)
        except ApplicationError as exc:
            error = exc.message
        except ImportError:  # pragma: no cover - the search app is not installed
            error = "Search is not available."
    visible = _published(request).defer("body", "body_html").order_by("-view_count", "title")
    categories = list(Category.objects.filter(parent__isnull=True).order_by("position", "name"))
    articles = list(visible[:500])
    by_category: dict[int | None, list[Article]] = {}
    children: dict[int, list[Category]] = {}
    for category in Category.objects.filter(parent__isnull=False).order_by("position", "name"):
        children.setdefault(category.parent_id or 0, []).append(category)
    parent_of = {c.pk: c.parent_id for cs in children.values() for c in cs}
    for article in articles:
        key = (
            parent_of.get(article.category_id, article.category_id) if article.category_id else None
        )
        by_category.setdefault(key, []).append(article)
    shelves = [
        {"category": c, "articles": by_category.get(c.pk, [])[:PER_CATEGORY],
         "more": max(0, len(by_category.get(c.pk, [])) - PER_CATEGORY),
         "children": children.get(c.pk, [])}
        for c in categories
        if by_category.get(c.pk)
    ]  # fmt: skip
    if by_category.get(None):
        shelves.append(
            {
                "category": None,
                "articles": by_category[None][:PER_CATEGORY],
                "more": 0,
                "children": [],
            }
        )
    context = portal_context(
        _place(request), "kb", shelves=shelves, q=q, result=result, error=error
    )
    return render(request, "portal/kb/home.html", context, status=400 if error else 200)


@kb_reader
@require_GET
def kb_category(request: HttpRequest, slug: str) -> HttpResponse:
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise Http404("No such category.")
    ids = [category.pk, *Category.objects.filter(parent=category).values_list("pk", flat=True)]
    articles = list(
        _published(request).filter(category_id__in=ids).defer("body", "body_html").order_by("title")
    )
    context = portal_context(_place(request), "kb", category=category, articles=articles)
    return render(request, "portal/kb/category.html", context)


def _article_or_404(request: HttpRequest, slug: str) -> Article:
    article = _published(request).select_related("category").filter(slug=slug).first()
    if article is None:
        raise Http404("No such article.")
    return article


def _count_view(request: HttpRequest, article: Article) -> None:
    """Once per reader's session: a reload or a second visit writes nothing."""
    viewed: list[int] = list(request.session.get(VIEWED_KEY, []))
    if article.pk in viewed:
        return
    services.article_viewed(article_id=article.pk)
    request.session[VIEWED_KEY] = [*viewed[-(VIEWED_KEEP - 1) :], article.pk]


@kb_reader
@require_GET
def kb_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article_or_404(request, slug)
    _count_view(request, article)
    search_id = _search_id(request.GET.get("s"))
    if search_id is not None and request.user.is_authenticated:
        try:
            from knowledgebase.search.services import record_open

            record_open(user=request.user, search_id=search_id, article_id=article.pk)
        except (ApplicationError, ImportError):
            search_id = None  # not this reader's search: nothing to record
    vote = None
    if request.user.is_authenticated:
        vote = article.feedback.filter(user_id=request.user.pk).first()
    context = portal_context(
        _place(request), "kb", article=article, search_id=search_id, vote=vote,
        related=list(
            _published(request).filter(category_id=article.category_id).exclude(pk=article.pk)
            .defer("body", "body_html").order_by("-view_count")[:5]
        ) if article.category_id else [],
    )  # fmt: skip
    return render(request, "portal/kb/article.html", context)


@kb_reader
@require_POST
def kb_feedback(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article_or_404(request, slug)
    helpful = request.POST.get("helpful")
    if helpful not in ("yes", "no"):
        messages.error(request, "Choose yes or no.")
        return redirect("portal:kb_article", slug=article.slug)
    try:
        services.feedback_record(
            article=article,
            user=request.user,
            helpful=helpful == "yes",
            comment=request.POST.get("comment", ""),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Thank you: glad it helped." if helpful == "yes" else
            "Thank you: we will improve this article.",
        )  # fmt: skip
    back = reverse("portal:kb_article", args=[article.slug])
    search_id = _search_id(request.POST.get("s"))
    return redirect(back + (f"?s={search_id}" if search_id else "") + "#feedback")


@kb_reader
@require_POST
def kb_answered(request: HttpRequest, slug: str) -> HttpResponse:
    """ "This answered my question": a deflection, recorded against the search or suggestion
    the reader came from."""
    article = _article_or_404(request, slug)
    search_id = _search_id(request.POST.get("s"))
    if search_id is None or not request.user.is_authenticated:
        raise Http404("No such search.")
    try:
        from knowledgebase.search.services import record_answered

        record_answered(user=request.user, search_id=search_id, article_id=article.pk)
    except ApplicationError as error:
        raise Http404(error.message) from error
    messages.success(request, "Glad it answered your question: no request was sent.")
    return redirect(reverse("portal:kb_article", args=[article.slug]) + "?answered=1")


@kb_reader
@require_GET
def kb_suggest(request: HttpRequest) -> HttpResponse:
    """The three best articles for the request being typed (htmx, debounced by the form)."""
    text = " ".join(
        part.strip()
        for part in (request.GET.get("subject", ""), request.GET.get("description", "")[:400])
        if part.strip()
    )
    hits: list[Any] = []
    search_id = None
    if len(text) >= MIN_SUGGEST_LENGTH:
        try:
            from knowledgebase.search.services import suggest

            result = suggest(user=request.user, q=text[:200])
        except (ApplicationError, ImportError):
            result = None
        if result is not None:
            hits, search_id = list(result.hits), result.search_id
    return render(
        request, "portal/kb/partials/suggestions.html", {"hits": hits, "search_id": search_id}
    )
