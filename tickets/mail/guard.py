"""The loop and noise guard: mail that must make no ticket and get no answer.

Bounces and delivery notifications, automatic replies (RFC 3834 and the headers mail
systems use in its place), mail from the desk's own addresses, and, by setting,
mailing-list mail. Each rule says why, so the
InboundMessage row records the reason.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from django.conf import settings

from tickets.mail.models import Reason, SupportAddress
from tickets.mail.parsing import ParsedMail

_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mail\.daemon)@", re.IGNORECASE)
_REPORT_TYPES = {"delivery-status", "disposition-notification", "feedback-report"}
_NOISY_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_VACATION_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|response)|out of (the )?office|abwesenheit|réponse automatique)\b",
    re.IGNORECASE,
)


def noise_reason(mail: ParsedMail) -> tuple[str, str] | None:
    """(reason, detail) when the message is noise, else None."""
    message = mail.message
    content_type = message.get_content_type()
    report_type = (message.get_param("report-type") or "") if content_type else ""
    if content_type == "multipart/report" and str(report_type).lower() in _REPORT_TYPES | {""}:
        return Reason.BOUNCE, f"multipart/report ({report_type or 'no report-type'})"
    if _DAEMON.match(mail.from_address):
        return Reason.BOUNCE, f"sent by {mail.from_address}"
    return_path = mail.header("Return-Path")
    if "Return-Path" in message and return_path.strip() in ("<>", ""):
        return Reason.BOUNCE, "empty Return-Path (a delivery notification)"
    auto_submitted = mail.header("Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return Reason.AUTO_REPLY, f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if name in message:
            return Reason.AUTO_REPLY, f"{name} header"
    precedence = mail.header("Precedence").strip().lower()
    if precedence == "list":
        return Reason.MAILING_LIST, "Precedence: list"
    if precedence in _NOISY_PRECEDENCE - {"list"}:
        return Reason.AUTO_REPLY, f"Precedence: {precedence}"
    if _VACATION_SUBJECT.match(mail.subject):
        return Reason.AUTO_REPLY, f"subject {mail.subject[:60]!r}"
    if settings.MAIL_REFUSE_LIST_MAIL:
        for name in ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List"):
            if name in message:
                return Reason.MAILING_LIST, f"{name} header"
    if _from_the_desk(mail.from_address):
        return Reason.LOOP, f"sent from the desk's own address {mail.from_address}"
    return None


def _from_the_desk(address: str) -> bool:
    """Mail from the desk's own sender or one of its support addresses: answering it would
    start a loop."""
    if not address:
        return False
    if address == parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower():
        return True
    return SupportAddress.objects.filter(address=address).exists()
