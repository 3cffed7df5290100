"""Files on tickets: checked for size and for what the bytes really are, stored by content."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from core.errors import NotFound
from tickets import events
from tickets.errors import AttachmentTooLarge, AttachmentTypeRefused, TicketClosed
from tickets.models import Attachment, Message, Ticket
from tickets.selectors import actor_roles
from tickets.services.common import locked
from tickets.states import Actor, TicketStatus

if TYPE_CHECKING:
    from core.models import User

_TEXT_TYPES_BY_EXTENSION = {".csv": "text/csv", ".json": "application/json", ".log": "text/plain"}


def _sniff_content_type(head: bytes, filename: str) -> str:
    """The type the bytes say they are, not the type the uploader claimed."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if b"\0" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    extension = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    return _TEXT_TYPES_BY_EXTENSION.get(extension, "text/plain")


def clean_filename(name: str) -> str:
    """The uploaded name, fit to show and to send back in Content-Disposition."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:255] or "attachment"


@dataclass(frozen=True)
class CheckedUpload:
    upload: UploadedFile[bytes]
    filename: str
    content_type: str
    size: int
    sha256: str


def attachment_check(upload: UploadedFile[bytes]) -> CheckedUpload:
    """Refuse a file that is empty, too large, or not of an accepted type; writes nothing."""
    size = upload.size or 0
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise AttachmentTooLarge(
            f"Files may be at most {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB.",
            field="file",
        )
    if size == 0:
        raise ValidationError({"file": ValidationError("The file is empty.", code="empty")})
    filename = clean_filename(upload.name or "")
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        digest.update(chunk)
    content_type = _sniff_content_type(head, filename)
    if content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        raise AttachmentTypeRefused(f"Files of type {content_type} are not accepted.", field="file")
    return CheckedUpload(upload, filename, content_type, size, digest.hexdigest())


def attachment_store(
    *, ticket: Ticket, message: Message | None, uploaded_by: User, checked: CheckedUpload
) -> Attachment:
    """Write a checked file; the caller holds the ticket's lock and has checked access."""
    attachment = Attachment(
        ticket=ticket,
        message=message,
        uploaded_by=uploaded_by,
        filename=checked.filename,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
    )
    path = f"attachments/{checked.sha256[:2]}/{checked.sha256}"
    if not default_storage.exists(path):  # content-addressed: the same bytes are kept once
        path = default_storage.save(path, checked.upload)
    attachment.file.name = path
    attachment.save()
    events.attachment_added(attachment=attachment)
    return attachment


def attachment_add(
    *,
    ticket: Ticket | int,
    uploaded_by: User,
    upload: UploadedFile[bytes],
    message: Message | None = None,
) -> Attachment:
    """Store a file on a ticket (or on one of its messages), checking size and real type."""
    checked = attachment_check(upload)
    with transaction.atomic():
        ticket = locked(ticket)
        roles = actor_roles(user=uploaded_by, ticket=ticket)
        if not roles:
            raise NotFound("No such ticket.")
        if message is not None and (
            message.ticket_id != ticket.pk or (message.is_internal and Actor.STAFF not in roles)
        ):
            raise NotFound("No such message.")
        if ticket.status == TicketStatus.CLOSED and Actor.STAFF not in roles:
            raise TicketClosed("This ticket is closed; please open a new request.")
        return attachment_store(
            ticket=ticket, message=message, uploaded_by=uploaded_by, checked=checked
        )
