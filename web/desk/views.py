from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from web.access import agent_required


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "desk/queue.html", {"area": "desk"})
