"""What happened to a ticket, in words: audit events ("Sam replied", "changed status:
Open → Resolved") and the field-by-field records django-simple-history keeps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tickets.models import Channel, Message, Severity, TicketEvent, TicketKind, Tier
from tickets.states import TicketStatus
from web.desk.selectors import names_of

if TYPE_CHECKING:
    from simple_history.models import HistoricalChanges

_CHOICES: dict[str, dict[str, str]] = {
    "status": dict(TicketStatus.choices),
    "severity": dict(Severity.choices),
    "tier": dict(Tier.choices),
    "kind": dict(TicketKind.choices),
    "channel": dict(Channel.choices),
}
_PEOPLE = ("assignee", "requester")
_LABELS = {"merged_into": "merged into", "first_responded_at": "first response",
           "resolved_at": "resolution", "closed_at": "closing",
           "funded": "dedicated funding"}  # fmt: skip
# Kept by every status change, which the record shows already.
_NOT_SHOWN = ("status_changed_at",)


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    what: str
    detail: str = ""
    internal: bool = False


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _value(field: str, value: Any, names: dict[int, str]) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "" or value == []:
        return "—"
    if field in _CHOICES:
        return _CHOICES[field].get(str(value), str(value))
    if field in _PEOPLE:
        return names.get(value, f"#{value}")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _short(str(value))


def _field(field: str) -> str:
    return _LABELS.get(field, field.replace("_", " "))


def _change(field: str, old: Any, new: Any, names: dict[int, str]) -> str:
    if isinstance(old, datetime) or isinstance(new, datetime):
        # When is the record's own time; the value would be a second, unrelative time.
        return f"{_field(field)} {'recorded' if old is None else 'cleared' if new is None else 'moved'}"
    return f"{_field(field)}: {_value(field, old, names)} → {_value(field, new, names)}"


def _describe(event: TicketEvent, names: dict[int, str]) -> tuple[str, str, bool]:
    data, kind = event.data, event.kind
    if kind == TicketEvent.Kind.OPENED:
        return (
            f"opened the ticket ({_value('status', data.get('status'), names)}, "
            f"via {_value('channel', data.get('channel'), names)})",
            "",
            False,
        )
    if kind == TicketEvent.Kind.STATUS_CHANGED:
        change = (
            f"{_value('status', data.get('previous'), names)} → "
            f"{_value('status', data.get('status'), names)}"
        )
        return f"changed status: {change}", data.get("note", ""), False
    if kind == TicketEvent.Kind.ASSIGNED:
        if data.get("assignee") is None:
            return (
                f"unassigned the ticket (was {_value('assignee', data.get('previous'), names)})",
                "",
                False,
            )
        return (
            f"assigned the ticket to {_value('assignee', data.get('assignee'), names)}",
            "",
            False,
        )
    if kind == TicketEvent.Kind.UPDATED:
        changes = "; ".join(
            f"{_field(field)}: {_value(field, before, names)} → {_value(field, after, names)}"
            for field, (before, after) in sorted(data.get("changes", {}).items())
        )
        return f"changed {changes}", data.get("reason", ""), False
    if kind == TicketEvent.Kind.MESSAGE_ADDED:
        if data.get("kind") == Message.Kind.INTERNAL:
            return "added an internal note", "", True
        return "replied", "", False
    if kind == TicketEvent.Kind.ATTACHMENT_ADDED:
        return f"attached {data.get('filename', 'a file')}", "", False
    if kind == TicketEvent.Kind.LINKED:
        return f"linked {data.get('reference', '')}", "", False
    if kind == TicketEvent.Kind.UNLINKED:
        return f"unlinked {data.get('reference', '')}", "", False
    if kind == TicketEvent.Kind.MERGED:
        if "into" in data:
            return f"merged this ticket into {data.get('reference', '')}", "", False
        return f"merged {data.get('reference', '')} into this ticket", "", False
    if kind == TicketEvent.Kind.RATED:
        return f"rated the answer: {data.get('score', '')}", "", False
    return event.get_kind_display(), "", False


def describe_events(events: Sequence[TicketEvent]) -> list[Entry]:
    """The audit events in words, in the order given. Actors must be select_related."""
    mentioned: list[int | None] = []
    for event in events:
        if event.kind == TicketEvent.Kind.ASSIGNED:
            mentioned += [event.data.get("assignee"), event.data.get("previous")]
    names = names_of(mentioned)
    entries = []
    for event in events:
        what, detail, internal = _describe(event, names)
        who = event.actor.display_name if event.actor else "The desk"
        entries.append(Entry(event.created_at, who, what, detail, internal))
    return entries


def describe_records(records: Sequence[HistoricalChanges]) -> list[Entry]:
    """simple-history records (newest first), each as the fields it changed."""
    if not records:  # a ticket imported in bulk has none
        return []
    mentioned: list[int | None] = []
    for record in records:
        mentioned += [getattr(record, f"{field}_id", None) for field in _PEOPLE]
    names = names_of(mentioned)
    entries = []
    for record, older in zip(records, [*records[1:], None], strict=True):
        user = record.history_user
        who = user.display_name if user else "The desk"
        at: datetime = record.history_date
        if older is None or record.history_type == "+":
            entries.append(Entry(at, who, "created the record"))
            continue
        changes = record.diff_against(older, excluded_fields=_NOT_SHOWN).changes
        what = "; ".join(_change(c.field, c.old, c.new, names) for c in changes)
        entries.append(Entry(at, who, f"changed {what}" if what else "saved without changes"))
    return entries
