from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Agents start at the desk; everyone else at the portal."""
    return redirect("desk:queue" if request.user.is_staff else "portal:home")
