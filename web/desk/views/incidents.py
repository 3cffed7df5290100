"""The desk's incidents: the list (active first, overdue updates marked), declaring (from a
ticket, from a page, or blank), an incident's page (status, roles, communities, linked
tickets, timeline, the update composer with templates, time to the next update, the
postmortem editor), "my action items", the uptime report, and the ticket page's panel.

Each action posts one form and calls one incidents service; a refusal shows the incident
again with the reason beside the form (400, or 409 when the state refuses it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from communities.models import Community
from core.errors import ApplicationError, ErrorKind
from core.models import User
from incidents.messages import render as render_template
from incidents.messages import variables
from incidents.models import (
    ActionItem,
    ActionStatus,
    Incident,
    IncidentComponent,
    IncidentTicket,
    Postmortem,
    StatusUpdate,
)
from incidents.selectors import (
    affected_communities,
    incident_get,
    incident_list,
    incidents_for_ticket,
    my_action_items,
    overdue,
    templates_offered,
    timeline,
)
from incidents.services import lifecycle, postmortems, updates
from incidents.services.common import definition
from incidents.states import ACTIVE, TRANSITIONS, Level, Status
from incidents.uptime import community_uptime, parse_month
from slas.selectors import humanize
from tickets.models import Ticket
from tickets.selectors import ticket_get
from web.access import agent_required, current_user
from web.desk.forms import DeskForm, show_refusal
from web.desk.panels import Panel

PAGE_SIZE = 50


def _agents() -> list[User]:
    return list(User.objects.filter(is_active=True, is_staff=True).order_by("first_name", "email"))


def _agent_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(str(a.pk), a.display_name) for a in _agents()]
    return [("", blank), *choices] if blank is not None else choices


def _agent(value: str | None) -> User | None:
    if not value:
        return None
    return User.objects.filter(pk=value, is_active=True, is_staff=True).first()


class LocalDateTimeField(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------- forms


class DeclareForm(DeskForm):
    id_prefix = "declare"
    title = forms.CharField(label="Title", max_length=200)
    severity = forms.ChoiceField(label="Severity", choices=Level.choices)
    summary = forms.CharField(
        label="What is known (internal)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    communities = forms.MultipleChoiceField(
        label="Affected communities", required=False, widget=forms.CheckboxSelectMultiple
    )
    commander = forms.ChoiceField(label="Incident commander", required=False)
    impact_started_at = LocalDateTimeField(label="Impact started", required=False)
    maintenance = forms.BooleanField(label="Planned maintenance", required=False)
    ticket = forms.CharField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, widget=forms.HiddenInput)
    key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["communities"]).choices = [
            (str(c.pk), c.name) for c in Community.objects.filter(active=True).order_by("name")
        ]
        cast(forms.ChoiceField, self.fields["commander"]).choices = _agent_choices("Me")


class UpdateForm(DeskForm):
    id_prefix = "update"
    status = forms.ChoiceField(label="Status")
    body = forms.CharField(
        label="Public update",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Goes to the affected communities' representatives, the portal banner and "
        "every linked ticket as a public reply. [Customer Name] becomes each reader's community.",
    )
    key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = [
            incident.status,
            *sorted(TRANSITIONS[incident.status] & (ACTIVE | {Status.RESOLVED})),
        ]
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            (s, Status(s).label) for s in allowed
        ]
        self.fields["status"].initial = incident.status


class TransitionForm(DeskForm):
    id_prefix = "transition"
    status = forms.ChoiceField(label="Move to", choices=Status.choices)
    reason = forms.CharField(label="Reason", required=False, max_length=300)


class FieldsForm(DeskForm):
    id_prefix = "fields"
    title = forms.CharField(label="Title", max_length=200)
    severity = forms.ChoiceField(label="Severity", choices=Level.choices)
    summary = forms.CharField(
        label="Summary (internal)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    maintenance = forms.BooleanField(label="Planned maintenance", required=False)
    impact_started_at = LocalDateTimeField(label="Impact started")
    detected_at = LocalDateTimeField(label="Detected")
    mitigated_at = LocalDateTimeField(label="Mitigated", required=False)
    resolved_at = LocalDateTimeField(label="Resolved", required=False)


class RoleForm(DeskForm):
    id_prefix = "role"
    role = forms.ChoiceField(label="Role", choices=list(lifecycle.ROLES.items()))
    user = forms.ChoiceField(label="Person", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["user"]).choices = _agent_choices("Nobody")


class LinkForm(DeskForm):
    id_prefix = "link"
    ticket = forms.CharField(label="Ticket", required=False, max_length=20, help_text="e.g. SD-12")
    community = forms.ChoiceField(label="Community", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["community"]).choices = [("", "—")] + [
            (str(c.pk), c.name) for c in Community.objects.filter(active=True).order_by("name")
        ]


class ComponentForm(DeskForm):
    id_prefix = "component"
    component = forms.ChoiceField(label="Component")
    degree = forms.ChoiceField(label="Degree")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from incidents.models import Component
        from incidents.states import Degree

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["component"]).choices = [
            (str(c.pk), str(c))
            for c in Component.objects.filter(active=True).select_related("service")
        ]
        cast(forms.ChoiceField, self.fields["degree"]).choices = [
            *Degree.choices,
            ("", "Operational (remove)"),
        ]


class NoteForm(DeskForm):
    id_prefix = "note"
    text = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    at = LocalDateTimeField(label="When it happened", required=False, help_text="Empty: now.")
    public = forms.BooleanField(label="Public", required=False)


class PostmortemForm(DeskForm):
    id_prefix = "postmortem"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in Postmortem.SECTIONS:
            self.fields[name] = forms.CharField(
                label=label, required=False, widget=forms.Textarea(attrs={"rows": 4})
            )


class ActionItemForm(DeskForm):
    id_prefix = "item"
    title = forms.CharField(label="Action item", required=False, max_length=300)
    owner = forms.ChoiceField(label="Owner", required=False)
    due_date = forms.DateField(
        label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ticket = forms.CharField(label="Ticket", required=False, max_length=20)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["owner"]).choices = _agent_choices("—")


class ActionItemChangeForm(DeskForm):
    id_prefix = "itemchange"
    status = forms.ChoiceField(label="Status", choices=ActionStatus.choices)
    deferred_reason = forms.CharField(label="Why deferred", required=False, max_length=500)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


# ---------------------------------------------------------------- reading


def _incident_or_404(request: HttpRequest, incident_id: int) -> Incident:
    incident = incident_get(user=current_user(request), reference=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _until(when: datetime | None) -> str:
    if when is None:
        return ""
    delta = when - timezone.now()
    if delta.total_seconds() < 0:
        return f"overdue by {humanize(delta)}"
    return f"in {humanize(delta)}"


@agent_required
@require_GET
def incidents(request: HttpRequest) -> HttpResponse:
    """Active incidents first (overdue updates marked), then the rest, newest first."""
    number = request.GET.get("page", "1")
    page = int(number) if number.isdigit() and int(number) >= 1 else 1
    rows = list(
        incident_list(current_user(request)).annotate(
            communities_count=Count("affected", distinct=True),
            tickets_count=Count("ticket_links", distinct=True),
        )[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1]
    )
    now = timezone.now()
    return render(
        request,
        "desk/incidents/list.html",
        {
            "area": "desk",
            "rows": [
                {"incident": i, "overdue": overdue(i, now), "due": _until(i.next_update_due_at)}
                for i in rows[:PAGE_SIZE]
            ],
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
            "open_items": my_action_items(current_user(request))
            .filter(status__in=[ActionStatus.OPEN, ActionStatus.IN_PROGRESS])
            .count(),
        },
    )


def _templates(incident: Incident, components: list[IncidentComponent]) -> list[dict[str, str]]:
    sev = definition(incident.severity)
    latest = StatusUpdate.objects.filter(incident=incident).values_list("body", flat=True).first()
    values = variables(
        reference=incident.reference, title=incident.title, severity=incident.severity,
        priority=incident.priority, status=incident.get_status_display(),
        components=", ".join(str(c.component) for c in components),
        next_update=incident.next_update_due_at, cadence_minutes=sev.update_minutes,
        started=incident.impact_started_at, resolved=incident.resolved_at,
        latest_update="" if latest is None else latest.splitlines()[0][:200],
    )  # fmt: skip
    return [
        {"id": str(t.pk), "name": t.name, "kind": t.kind, "body": render_template(t.body, values)}
        for t in templates_offered()
    ]


def _local(value: datetime | None) -> str | None:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else None


def _detail_context(
    request: HttpRequest, incident: Incident, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    user = current_user(request)
    bound = bound or {}
    components = list(
        IncidentComponent.objects.filter(incident=incident).select_related("component__service")
    )
    links = list(
        IncidentTicket.objects.filter(incident=incident)
        .select_related("ticket__community")
        .order_by("linked_at", "id")[:200]
    )
    postmortem = Postmortem.objects.filter(incident=incident).first()
    items = list(
        ActionItem.objects.filter(incident=incident)
        .select_related("owner", "ticket")
        .order_by("id")
    )
    latest = StatusUpdate.objects.filter(incident=incident).order_by("-created_at", "-id").first()
    sev = definition(incident.severity)
    fields_initial = {
        "title": incident.title, "severity": incident.severity, "summary": incident.summary,
        "maintenance": incident.maintenance,
        "impact_started_at": _local(incident.impact_started_at),
        "detected_at": _local(incident.detected_at), "mitigated_at": _local(incident.mitigated_at),
        "resolved_at": _local(incident.resolved_at),
    }  # fmt: skip
    postmortem_initial = (
        {n: getattr(postmortem, n) for n, _ in Postmortem.SECTIONS} if postmortem else {}
    )
    forms_ = {
        "update": UpdateForm(incident=incident, initial={"key": uuid.uuid4().hex}),
        "transition": TransitionForm(),
        "fields": FieldsForm(initial=fields_initial),
        "role": RoleForm(),
        "link": LinkForm(),
        "component": ComponentForm(),
        "note": NoteForm(),
        "postmortem": PostmortemForm(initial=postmortem_initial),
        "item": ActionItemForm(),
        **bound,
    }
    moves = [
        (s, Status(s).label) for s in sorted(TRANSITIONS[incident.status]) if s != Status.RESOLVED
    ]
    return {
        "area": "desk",
        "incident": incident,
        "definition": sev,
        "overdue": overdue(incident),
        "due": _until(incident.next_update_due_at),
        "communities": affected_communities(user=user, incident=incident),
        "components": components,
        "links": links,
        "tickets_count": IncidentTicket.objects.filter(incident=incident).count(),
        "timeline": list(timeline(user=user, incident=incident)),
        "latest": latest,
        "updates_count": StatusUpdate.objects.filter(incident=incident).count(),
        "templates": _templates(incident, components) if incident.status in ACTIVE else [],
        "postmortem": postmortem,
        "items": items,
        "item_change": ActionItemChangeForm(),
        "moves": moves,
        "is_active": incident.status in ACTIVE,
        "can_postmortem": incident.status in (Status.RESOLVED, Status.POSTMORTEM),
        "forms": forms_,
        "refused": next(iter(bound.values()), None),
    }


@agent_required
@require_GET
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    found = _incident_or_404(request, incident_id)
    context = _detail_context(request, found)
    chosen = request.GET.get("template", "")
    template = next((t for t in context["templates"] if t["id"] == chosen), None)
    if template is not None:
        status = Status.RESOLVED if template["kind"] == "resolution" else found.status
        context["forms"]["update"] = UpdateForm(
            incident=found,
            initial={"key": uuid.uuid4().hex, "body": template["body"], "status": status},
        )
    return render(request, "desk/incidents/detail.html", context)


# ---------------------------------------------------------------- declaring


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """Declaring from a ticket (?ticket=SD-12) or a page (?page=7) starts from it."""
    from incidents.paging.models import Page
    from incidents.states import LEVEL_OF_TICKET_SEVERITY

    initial: dict[str, Any] = {"key": uuid.uuid4().hex, "severity": "SEV2"}
    reference = request.GET.get("ticket", "")
    if reference:
        try:
            ticket = ticket_get(user=current_user(request), reference=reference)
        except ApplicationError as exc:
            raise Http404("No such ticket.") from exc
        initial.update(
            ticket=ticket.reference, title=ticket.subject, communities=[str(ticket.community_id)],
            severity=LEVEL_OF_TICKET_SEVERITY.get(ticket.severity, "SEV2"),
        )  # fmt: skip
    page_id = request.GET.get("page", "")
    if page_id.isdigit():
        page = Page.objects.filter(pk=int(page_id)).first()
        if page is None:
            raise Http404("No such page.")
        initial.update(
            page=page.pk, title=page.title,
            severity=LEVEL_OF_TICKET_SEVERITY.get(page.severity, "SEV2"),
        )  # fmt: skip
        if page.community_id:
            initial["communities"] = [str(page.community_id)]
    return initial


@agent_required
@require_http_methods(["GET", "POST"])
def declare(request: HttpRequest) -> HttpResponse:
    """The declare form; from a ticket it links the ticket, from a page it links the page."""
    from incidents.paging.models import Page

    user = current_user(request)
    if request.method == "GET":
        form = DeclareForm(initial=_prefill(request))
        return render(request, "desk/incidents/declare.html", _declare_context(form))
    form = DeclareForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        tickets: list[Ticket] = []
        page = None
        try:
            if data["ticket"]:
                tickets.append(ticket_get(user=user, reference=data["ticket"]))
            if data["page"]:
                page = Page.objects.filter(pk=data["page"]).first()
            found = lifecycle.incident_declare(
                actor=user, title=data["title"], severity=data["severity"],
                summary=data["summary"],
                communities=Community.objects.filter(pk__in=data["communities"]),
                tickets=tickets, commander=_agent(data["commander"]),
                impact_started_at=data["impact_started_at"], maintenance=data["maintenance"],
                page=page, via="desk", key=f"desk:{data['key']}" if data["key"] else "",
            )  # fmt: skip
        except (ApplicationError, ValidationError) as error:
            show_refusal(form, error)
        else:
            messages.success(request, f"Declared {found.reference}: {found.title}.")
            return redirect("desk:incident", found.pk)
    return render(request, "desk/incidents/declare.html", _declare_context(form), status=400)


def _declare_context(form: DeclareForm) -> dict[str, Any]:
    return {"area": "desk", "form": form, "levels": [definition(level) for level in Level.values]}


# ---------------------------------------------------------------- actions


def _act(
    request: HttpRequest,
    incident_id: int,
    *,
    name: str,
    form: forms.Form,
    call: Callable[[Incident, dict[str, Any]], str],
) -> HttpResponse:
    found = _incident_or_404(request, incident_id)
    status = 400
    if form.is_valid():
        try:
            done = call(found, form.cleaned_data)
        except (ApplicationError, ValidationError) as error:
            if isinstance(error, ApplicationError) and error.kind is ErrorKind.CONFLICT:
                status = 409
            show_refusal(form, error)
        else:
            messages.success(request, done)
            return redirect(reverse("desk:incident", args=[found.pk]) + f"#{name}")
    found = _incident_or_404(request, incident_id)
    return render(
        request, "desk/incidents/detail.html", _detail_context(request, found, {name: form}),
        status=status,
    )  # fmt: skip


@agent_required
@require_POST
def post_update(request: HttpRequest, incident_id: int) -> HttpResponse:
    found = _incident_or_404(request, incident_id)

    def call(incident: Incident, data: dict[str, Any]) -> str:
        update = updates.incident_update_post(
            incident=incident, actor=current_user(request), body=data["body"],
            status=data["status"], key=f"desk:{data['key']}" if data["key"] else "",
        )  # fmt: skip
        return (
            f"Posted the update ({update.get_status_display()}); it goes out to "
            f"{update.tickets_total} linked ticket(s) and the representatives."
        )

    form = UpdateForm(request.POST, incident=found)
    return _act(request, incident_id, name="update", form=form, call=call)


@agent_required
@require_POST
def transition(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        moved = lifecycle.incident_transition(
            incident=incident, to=data["status"], actor=current_user(request), reason=data["reason"]
        )
        return f"{moved.reference} is {moved.get_status_display().lower()}."

    return _act(
        request, incident_id, name="transition", form=TransitionForm(request.POST), call=call
    )


@agent_required
@require_POST
def fields(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        changes = dict(data)
        if incident.resolved_at is None and not changes.get("resolved_at"):
            changes.pop("resolved_at")
        lifecycle.incident_change(incident=incident, actor=current_user(request), **changes)
        return "Saved."

    return _act(request, incident_id, name="fields", form=FieldsForm(request.POST), call=call)


@agent_required
@require_POST
def role(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        person = _agent(data["user"])
        lifecycle.incident_assign_role(
            incident=incident, role=data["role"], user=person, actor=current_user(request)
        )
        return f"{lifecycle.ROLES[data['role']]}: {person.display_name if person else 'nobody'}."

    return _act(request, incident_id, name="role", form=RoleForm(request.POST), call=call)


@agent_required
@require_POST
def link(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        user = current_user(request)
        remove = request.POST.get("remove") == "1"
        if data["ticket"]:
            try:
                ticket = ticket_get(user=user, reference=data["ticket"])
            except ApplicationError as exc:
                raise ApplicationError("No such ticket.", field="ticket") from exc
            if remove:
                lifecycle.incident_ticket_unlink(incident=incident, ticket=ticket, actor=user)
                return f"Unlinked {ticket.reference}."
            lifecycle.incident_ticket_link(incident=incident, ticket=ticket, actor=user)
            return f"Linked {ticket.reference}."
        if data["community"]:
            community = Community.objects.get(pk=data["community"])
            if remove:
                lifecycle.incident_community_remove(
                    incident=incident, community=community, actor=user
                )
                return f"{community.name} is no longer affected."
            lifecycle.incident_community_add(incident=incident, community=community, actor=user)
            return f"{community.name} is affected."
        raise ApplicationError("Name a ticket or a community.", field="ticket")

    return _act(request, incident_id, name="link", form=LinkForm(request.POST), call=call)


@agent_required
@require_POST
def component(request: HttpRequest, incident_id: int) -> HttpResponse:
    from incidents.models import Component

    def call(incident: Incident, data: dict[str, Any]) -> str:
        part = Component.objects.select_related("service").get(pk=data["component"])
        lifecycle.incident_component_set(
            incident=incident, component=part, degree=data["degree"] or None,
            actor=current_user(request),
        )  # fmt: skip
        return f"{part}: saved."

    return _act(request, incident_id, name="component", form=ComponentForm(request.POST), call=call)


@agent_required
@require_POST
def note(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        lifecycle.incident_note_add(
            incident=incident, actor=current_user(request), text=data["text"], at=data["at"],
            public=data["public"],
        )  # fmt: skip
        return "Added to the timeline."

    return _act(request, incident_id, name="note", form=NoteForm(request.POST), call=call)


@agent_required
@require_POST
def postmortem(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        if request.POST.get("import") == "1":
            postmortems.postmortem_import_timeline(incident=incident, actor=current_user(request))
            return "Imported the timeline into the postmortem."
        postmortems.postmortem_save(incident=incident, actor=current_user(request), **data)
        return "Postmortem saved."

    return _act(
        request, incident_id, name="postmortem", form=PostmortemForm(request.POST), call=call
    )


@agent_required
@require_POST
def action_item_add(request: HttpRequest, incident_id: int) -> HttpResponse:
    def call(incident: Incident, data: dict[str, Any]) -> str:
        ticket = None
        if data["ticket"]:
            try:
                ticket = ticket_get(user=current_user(request), reference=data["ticket"])
            except ApplicationError as exc:
                raise ApplicationError("No such ticket.", field="ticket") from exc
        item = postmortems.action_item_add(
            incident=incident, actor=current_user(request), title=data["title"],
            owner=_agent(data["owner"]), due_date=data["due_date"], ticket=ticket,
        )  # fmt: skip
        return f"Added the action item {item.title!r}."

    return _act(request, incident_id, name="item", form=ActionItemForm(request.POST), call=call)


@agent_required
@require_POST
def action_item_change(request: HttpRequest, item_id: int) -> HttpResponse:
    item = ActionItem.objects.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such action item.")
    form = ActionItemChangeForm(request.POST)

    def call(incident: Incident, data: dict[str, Any]) -> str:
        postmortems.action_item_change(
            item=item, actor=current_user(request), status=data["status"],
            deferred_reason=data["deferred_reason"],
        )  # fmt: skip
        return f"{item.title}: {ActionStatus(data['status']).label.lower()}."

    if form.is_valid() and form.cleaned_data["next"] == "mine":
        try:
            messages.success(request, call(item.incident, form.cleaned_data))
        except (ApplicationError, ValidationError) as error:
            messages.error(request, getattr(error, "message", None) or "; ".join(error.messages))  # type: ignore[union-attr]
        return redirect("desk:incident_action_items")
    return _act(request, item.incident_id, name="items", form=form, call=call)


@agent_required
@require_GET
def action_items(request: HttpRequest) -> HttpResponse:
    """My action items: open ones first, by due date."""
    items = list(my_action_items(current_user(request))[:200])
    return render(
        request,
        "desk/incidents/action_items.html",
        {
            "area": "desk",
            "items": items,
            "change": ActionItemChangeForm(initial={"next": "mine"}),
            "today": timezone.localdate(),
        },
    )


@agent_required
@require_GET
def uptime_report(request: HttpRequest) -> HttpResponse:
    """Every community's uptime in a month against its plan, and the credit owed."""
    raw = request.GET.get("month", "")
    today = timezone.localdate()
    parsed = parse_month(raw) if raw else (today.year, today.month)
    status = 200
    error = ""
    if parsed is None:
        parsed, status, error = (today.year, today.month), 400, "Give the month as YYYY-MM."
    rows = []
    for community in (
        Community.objects.filter(active=True).select_related("service_plan").order_by("name")
    ):
        figure = community_uptime(community=community, year=parsed[0], month=parsed[1])
        rows.append({"community": community, "figure": figure,
                     "downtime": humanize(figure.downtime) if figure.downtime else "none"})  # fmt: skip
    return render(
        request,
        "desk/incidents/uptime.html",
        {"area": "desk", "rows": rows, "month": f"{parsed[0]:04d}-{parsed[1]:02d}", "error": error},
        status=status,
    )


# ---------------------------------------------------------------- the ticket page's panel


def incident_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    found = list(incidents_for_ticket(ticket.pk)[:5])
    return Panel(
        "Incidents",
        "desk/incidents/panel.html",
        {
            "incidents": found,
            "declare_url": reverse("desk:incident_declare") + f"?ticket={ticket.reference}",
        },
    )


__all__ = ["Prefetch"]
