from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.services import user_profile_update
from tickets.mail.forms import MailPreferenceForm
from tickets.mail.outbound import mail_preference_set, muted_kinds, optional_kinds_for
from web.access import current_user
from web.forms import ProfileForm, show_errors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Agents start at the desk; everyone else at the portal."""
    return redirect("desk:queue" if request.user.is_staff else "portal:home")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Your name, your time zone, and the notification mails you want."""
    user = current_user(request)
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "time_zone": user.time_zone,
        },
    )
    mail_form = MailPreferenceForm(
        request.POST or None, kinds=optional_kinds_for(user=user), muted=muted_kinds(user=user)
    )
    if request.method == "POST" and form.is_valid() and mail_form.is_valid():
        try:
            user_profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            show_errors(form, error)
        else:
            mail_preference_set(user=user, muted=mail_form.muted())
            messages.success(request, "Your profile is saved.")
            return redirect("profile")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "registration/profile.html",
        {"form": form, "mail_form": mail_form},
        status=status,
    )
