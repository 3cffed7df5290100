"""The satisfaction survey behind the signed link mailed on resolution."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import ApplicationError
from tickets.errors import SurveyAlreadyAnswered, SurveyLinkInvalid
from tickets.models import SatisfactionRating
from tickets.selectors import transitions_available
from tickets.services.surveys import survey_answer, survey_from_token
from web.access import current_user
from web.portal.forms import SurveyForm
from web.portal.views.common import refuse


def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed on resolution: no login, 14 days, answered once."""
    try:
        rating = survey_from_token(token)
    except SurveyLinkInvalid as exc:
        raise Http404(exc.message) from exc
    status = 200
    already = False
    if request.method == "POST":
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                survey_answer(
                    rating=rating,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
            except SurveyAlreadyAnswered:
                already = True  # single use: the first answer stands
                rating.refresh_from_db(fields=["score", "comment", "answered_at"])
            except (ApplicationError, ValidationError) as error:
                refuse(form, error)
            else:
                messages.success(
                    request, f"Thank you: your rating of {rating.ticket.reference} is recorded."
                )
                return redirect(request.path)
        status = 400
    else:
        score = request.GET.get("score")
        form = SurveyForm(initial={"score": score} if score in ("good", "bad") else None)
    return render(
        request,
        "portal/survey.html",
        {
            "area": "portal",
            "rating": rating,
            "ticket": rating.ticket,
            "form": form,
            "answered": rating.answered_at is not None or already,
            "refused_again": already,
            "can_reopen": _can_reopen(request, rating),
        },
        status=status,
    )


def _can_reopen(request: HttpRequest, rating: SatisfactionRating) -> bool:
    """A bad rating offers a Reopen button to whoever may reopen (a signed-in representative
    of the ticket's community, or an agent)."""
    if rating.score != SatisfactionRating.Score.BAD or not request.user.is_authenticated:
        return False
    offered = transitions_available(user=current_user(request), ticket=rating.ticket)
    return any(t.name == "reopen" for t in offered)
