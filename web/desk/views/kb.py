"""The desk's knowledge base: the list with filters, the review queue (articles waiting for
review, and published ones past their review-by date), the Markdown editor, an article with
its workflow buttons, its history with a diff of each version and restore, and the ticket
page's panel (suggested articles, "insert link in reply", "create an article from this
ticket"). Agents only; every write calls one knowledgebase service."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from communities.models import Community
from core.errors import ApplicationError, ErrorKind
from core.models import User
from knowledgebase import services
from knowledgebase.models import Article, ArticleKind, Audience, Category
from knowledgebase.selectors import article_list, articles_visible_to
from knowledgebase.states import TRANSITIONS, ArticleStatus, transitions_from
from web.access import agent_required, current_user, ticket_or_404
from web.desk.forms import DeskForm, show_refusal
from web.desk.views.common import HtmxHttpRequest

PAGE_SIZE = 50
SUGGESTIONS = 5


# ---------------------------------------------------------------- forms


class KbFilterForm(DeskForm):
    id_prefix = "kb"
    q = forms.CharField(label="Title contains", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any"), *ArticleStatus.choices]
    )
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Any"), *ArticleKind.choices]
    )
    audience = forms.ChoiceField(
        label="Audience", required=False, choices=[("", "Any"), *Audience.choices]
    )
    category = forms.ChoiceField(label="Category", required=False)
    due = forms.BooleanField(label="Review overdue", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", "Any"),
            *((c.slug, c.name) for c in Category.objects.only("slug", "name")),
        ]


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    summary = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences: shown in lists and suggestions.",
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "markdown-editor"}),
        help_text="Markdown: # headings, **bold**, - lists, [links](https://…), `code`, tables.",
    )
    kind = forms.ChoiceField(choices=ArticleKind.choices)
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), required=False, empty_label="None", to_field_name="slug"
    )
    audience = forms.ChoiceField(choices=Audience.choices)
    communities = forms.ModelMultipleChoiceField(
        queryset=Community.objects.filter(active=True),
        required=False,
        to_field_name="slug",
        help_text="Who may read it when the audience is restricted.",
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    tags = forms.CharField(required=False, max_length=500, help_text="Separated by commas.")
    slug = forms.SlugField(required=False, max_length=200, help_text="Empty: made from the title.")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True, is_active=True).order_by("email"),
        required=False,
        empty_label="Me",
        help_text="Keeps it current; reminded when its review is due.",
    )
    review_by = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Review by"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "article_%s")
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tags"] = [t for t in (data.get("tags") or "").split(",") if t.strip()]
        data["communities"] = list(data.get("communities") or [])
        if not data.get("slug"):
            data.pop("slug", None)
        if data.get("owner") is None:
            data.pop("owner", None)
        return data


def article_initial(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "summary": article.summary,
        "body": article.body,
        "kind": article.kind,
        "category": article.category,
        "audience": article.audience,
        "communities": list(article.communities.all()),
        "tags": ", ".join(article.tags),
        "slug": article.slug,
        "owner": article.owner,
        "review_by": article.review_by,
    }


# ---------------------------------------------------------------- reading


def _article_or_404(request: HtmxHttpRequest, article_id: int) -> Article:
    article = (
        articles_visible_to(current_user(request))
        .select_related("category", "owner", "author", "reviewer")
        .filter(pk=article_id)
        .first()
    )
    if article is None:
        raise Http404("No such article.")
    return article


def _filtered(filters: KbFilterForm, user: User) -> QuerySet[Article]:
    articles = article_list(user).order_by("-updated_at", "-id")
    if not filters.is_valid():
        return articles
    data = filters.cleaned_data
    if data["q"]:
        articles = articles.filter(
            Q(title__icontains=data["q"]) | Q(tags__contains=[data["q"].lower()])
        )
    for name in ("status", "kind", "audience"):
        if data[name]:
            articles = articles.filter(**{name: data[name]})
    if data["category"]:
        articles = articles.filter(category__slug=data["category"])
    if data["due"]:
        articles = articles.filter(
            status=ArticleStatus.PUBLISHED, review_by__lt=timezone.localdate()
        )
    return articles


@agent_required
@require_GET
def kb_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = KbFilterForm(request.GET)
    number = request.GET.get("page", "1")
    page = int(number) if number.isdigit() and int(number) >= 1 else 1
    offset = (page - 1) * PAGE_SIZE
    fetched = list(_filtered(filters, current_user(request))[offset : offset + PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)

    def page_url(n: int) -> str:
        q = query.copy()
        if n > 1:
            q["page"] = str(n)
        return reverse("desk:kb") + (f"?{q.urlencode()}" if q else "")

    context = {
        "area": "desk",
        "kb_page": "list",
        "filters": filters,
        "filtered": any(
            request.GET.get(k) for k in ("q", "status", "kind", "audience", "category", "due")
        ),
        "articles": fetched[:PAGE_SIZE],
        "today": timezone.localdate(),
        "number": page,
        "previous_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if len(fetched) > PAGE_SIZE else None,
    }
    return render(request, "desk/kb/list.html", context)


@agent_required
@require_GET
def kb_review(request: HtmxHttpRequest) -> HttpResponse:
    """What waits for an agent: articles sent for review (oldest first, with who may review
    them), and published articles past their review-by date (most overdue first)."""
    user = current_user(request)
    today = timezone.localdate()
    waiting = list(
        article_list(user)
        .filter(status=ArticleStatus.IN_REVIEW)
        .select_related("author")
        .order_by("submitted_at", "id")[:200]
    )
    overdue = list(
        article_list(user)
        .filter(status=ArticleStatus.PUBLISHED, review_by__lt=today)
        .order_by("review_by", "id")[:200]
    )
    context = {
        "area": "desk",
        "kb_page": "review",
        "waiting": waiting,
        "overdue": overdue,
        "today": today,
    }
    return render(request, "desk/kb/review.html", context)


def _detail_context(
    request: HtmxHttpRequest, article: Article, refused: forms.Form | None = None
) -> dict[str, Any]:
    user = current_user(request)
    from django.conf import settings

    must_differ = bool(getattr(settings, "KB_REVIEWER_MUST_DIFFER", True))
    actions = []
    for transition in transitions_from(article.status):
        blocked = transition.is_review and must_differ and user.pk == article.author_id
        actions.append({"transition": transition, "blocked": blocked})
    return {
        "area": "desk",
        "kb_page": "article",
        "article": article,
        "communities": list(article.communities.all()),
        "linked_tickets": list(article.linked_tickets.only("id", "subject")),
        "actions": actions,
        "refused": refused,
        "overdue": bool(
            article.is_published and article.review_by and article.review_by < timezone.localdate()
        ),
        "feedback": list(article.feedback.select_related("user")[:20]),
        "portal_url": reverse("portal:kb_article", args=[article.slug])
        if article.is_published and article.audience != Audience.STAFF
        else None,
    }


@agent_required
@require_GET
def kb_article(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    article = _article_or_404(request, article_id)
    return render(request, "desk/kb/article.html", _detail_context(request, article))


@agent_required
@require_http_methods(["GET", "POST"])
def kb_new(request: HtmxHttpRequest) -> HttpResponse:
    form = ArticleForm(
        request.POST or None, initial={"kind": ArticleKind.FAQ, "audience": Audience.PUBLIC}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                article = services.article_create(
                    actor=current_user(request), data=form.service_data()
                )
            except (ApplicationError, ValidationError) as error:
                show_refusal(form, error)
            else:
                if request.POST.get("then") == "submit":
                    return _transition_and_back(request, article, "submit")
                messages.success(request, "Draft saved.")
                return redirect("desk:kb_article", article_id=article.pk)
    context = {"area": "desk", "kb_page": "new", "form": form, "article": None}
    return render(request, "desk/kb/edit.html", context, status=status)


@agent_required
@require_http_methods(["GET", "POST"])
def kb_edit(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    article = _article_or_404(request, article_id)
    form = ArticleForm(request.POST or None, initial=article_initial(article))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.article_update(
                    article=article, actor=current_user(request), data=form.service_data()
                )
            except (ApplicationError, ValidationError) as error:
                if isinstance(error, ApplicationError) and error.kind is ErrorKind.CONFLICT:
                    status = 409
                show_refusal(form, error)
            else:
                if request.POST.get("then") == "submit":
                    return _transition_and_back(request, article, "submit")
                messages.success(request, "Saved: the previous text is kept in the history.")
                return redirect("desk:kb_article", article_id=article.pk)
    context = {"area": "desk", "kb_page": "edit", "form": form, "article": article}
    return render(request, "desk/kb/edit.html", context, status=status)


class TransitionForm(DeskForm):
    id_prefix = "transition"
    transition = forms.ChoiceField(choices=[(name, t.label) for name, t in TRANSITIONS.items()])
    reason = forms.CharField(label="Reason", required=False, max_length=300)


def _transition_and_back(request: HtmxHttpRequest, article: Article, name: str) -> HttpResponse:
    try:
        services.article_transition(article=article, name=name, actor=current_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{TRANSITIONS[name].label}: done.")
    return redirect("desk:kb_article", article_id=article.pk)


@agent_required
@require_POST
def kb_transition(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    article = _article_or_404(request, article_id)
    form = TransitionForm(request.POST)
    status = 400
    if form.is_valid():
        name = form.cleaned_data["transition"]
        try:
            services.article_transition(
                article=article, name=name, actor=current_user(request),
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except (ApplicationError, ValidationError) as error:
            if isinstance(error, ApplicationError) and error.kind is ErrorKind.CONFLICT:
                status = 409
            show_refusal(form, error)
        else:
            messages.success(request, f"{TRANSITIONS[name].label}: done.")
            return redirect("desk:kb_article", article_id=article.pk)
    article = _article_or_404(request, article_id)
    return render(
        request, "desk/kb/article.html", _detail_context(request, article, form), status=status
    )


@agent_required
@require_POST
def kb_reviewed(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    article = _article_or_404(request, article_id)
    try:
        article = services.article_mark_reviewed(article=article, actor=current_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("desk:kb_article", article_id=article.pk)
    messages.success(
        request, f"Marked as still current: next review by {article.review_by:%Y-%m-%d}."
    )
    if request.POST.get("next") == "review":
        return redirect("desk:kb_review")
    return redirect("desk:kb_article", article_id=article.pk)


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class FieldChange:
    field: str
    lines: list[tuple[str, str]]  # (kind: "add" | "del" | "same", text)


_DIFFED = (
    "title",
    "summary",
    "body",
    "kind",
    "audience",
    "category",
    "tags",
    "status",
    "slug",
    "review_by",
    "owner",
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def version_diff(new: Any, old: Any | None) -> list[FieldChange]:
    """What changed from `old` to `new` (historical records), field by field, line by line."""
    changes: list[FieldChange] = []
    for name in _DIFFED:
        attname = f"{name}_id" if name in ("category", "owner") else name
        after = _text(getattr(new, attname))
        before = _text(getattr(old, attname)) if old is not None else ""
        if old is not None and after == before:
            continue
        if old is None and not after:
            continue
        lines: list[tuple[str, str]] = []
        for line in difflib.ndiff(before.splitlines(), after.splitlines()):
            tag, text = line[:2], line[2:]
            if tag == "+ ":
                lines.append(("add", text))
            elif tag == "- ":
                lines.append(("del", text))
            elif tag == "  ":
                lines.append(("same", text))
        changes.append(FieldChange(field=name, lines=lines))
    return changes


@agent_required
@require_GET
def kb_history(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    """Every version, newest first; `?version=` shows what that version changed from the one
    before it, with a restore button."""
    article = _article_or_404(request, article_id)
    versions = list(article.history.select_related("history_user").order_by("-history_id")[:200])
    chosen_id = request.GET.get("version", "")
    chosen = next((v for v in versions if str(v.history_id) == chosen_id), None)
    if chosen_id and chosen is None:
        raise Http404("No such version.")
    chosen = chosen or (versions[0] if versions else None)
    previous = None
    if chosen is not None:
        index = versions.index(chosen)
        previous = versions[index + 1] if index + 1 < len(versions) else None
    categories = {c.pk: c.name for c in Category.objects.only("id", "name")}
    changes = version_diff(chosen, previous) if chosen is not None else []
    for change in changes:
        if change.field == "category":
            change.lines[:] = [
                (k, categories.get(int(t), t) if t.isdigit() else t) for k, t in change.lines
            ]
    context = {
        "area": "desk",
        "kb_page": "history",
        "article": article,
        "versions": versions,
        "chosen": chosen,
        "previous": previous,
        "changes": changes,
        "is_current": chosen is not None and versions and chosen == versions[0],
    }
    return render(request, "desk/kb/history.html", context)


@agent_required
@require_POST
def kb_restore(request: HtmxHttpRequest, article_id: int) -> HttpResponse:
    article = _article_or_404(request, article_id)
    version = request.POST.get("version", "")
    if not version.isdigit():
        raise Http404("No such version.")
    try:
        services.article_restore_version(
            article=article, history_id=int(version), actor=current_user(request)
        )
    except ApplicationError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise Http404(error.message) from error
        messages.error(request, error.message)
        return redirect(reverse("desk:kb_history", args=[article.pk]) + f"?version={version}")
    messages.success(request, "Restored: the article holds that version's text again.")
    return redirect("desk:kb_article", article_id=article.pk)


# ---------------------------------------------------------------- the ticket page


def kb_panel(request: Any, ticket: Any) -> Any:
    """The ticket page's knowledge-base panel: its suggestions load after the page (htmx),
    so the ticket page pays no query for them."""
    from web.desk.panels import Panel

    return Panel("Knowledge base", "desk/kb/panel.html", {"kb_ticket": ticket})


def _suggested(user: User, text: str) -> list[Any]:
    """The articles the search suggests for `text` (none until the search service exists)."""
    try:
        from knowledgebase.search.services import search
    except ImportError:  # pragma: no cover - the search app is not installed
        return []
    try:
        result = search(user=user, q=text[:200], page_size=SUGGESTIONS, log=False)
    except ApplicationError:
        return []
    return list(result.hits)


@agent_required
@require_GET
def kb_ticket_suggestions(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_or_404(request, reference)
    user = current_user(request)
    hits = _suggested(user, f"{ticket.subject} {ticket.description[:300]}")
    # A link goes into a reply only if the ticket's community may read the article.
    shareable = (
        set(
            Article.objects.filter(pk__in=[h.article_id for h in hits])
            .filter(
                Q(audience=Audience.PUBLIC)
                | Q(audience=Audience.RESTRICTED, communities=ticket.community_id)
            )
            .values_list("pk", flat=True)
        )
        if hits
        else set()
    )
    linked = list(
        ticket.kb_articles.filter(pk__in=articles_visible_to(user)).only(
            "id", "title", "slug", "status"
        )
    )
    context = {
        "kb_ticket": ticket,
        "hits": [(hit, hit.article_id in shareable) for hit in hits],
        "linked": linked,
        "site_url": _site_url(),
    }
    return render(request, "desk/kb/partials/suggestions.html", context)


def _site_url() -> str:
    from django.conf import settings

    return str(getattr(settings, "SITE_URL", "")).rstrip("/")


@agent_required
@require_POST
def kb_from_ticket(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_or_404(request, reference)
    try:
        article = services.article_create_from_ticket(ticket=ticket, actor=current_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("desk:ticket", reference=ticket.reference)
    messages.success(
        request,
        "A draft was written from the conversation and sent for review: edit it before a "
        "reviewer publishes it.",
    )
    return redirect("desk:kb_article", article_id=article.pk)
