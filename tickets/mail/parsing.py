"""Raw MIME bytes -> what intake needs, surviving the mail that real clients send.

Parsing uses the standard library's `email` package with the modern policy
(`email.policy.default`). Everything that can be malformed in the wild is read defensively:
a header that the modern policy cannot parse is decoded from its raw value instead, a part
whose declared charset is wrong or unknown is decoded as UTF-8 and then as Windows-1252
(which maps every byte), HTML-only mail is turned into text by inscriptis, and a missing
body is an empty string, never an exception.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from inscriptis import get_text
from inscriptis.model.config import ParserConfig

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_HTML_CONFIG = ParserConfig(display_links=False, display_images=False)


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass
class ParsedMail:
    message: EmailMessage
    message_id: str
    from_address: str
    from_name: str
    recipients: list[str]
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str
    attachments: list[MailAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        return header_text(self.message, name)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw bytes. Raises only for something no mail reader could make sense of."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101  # the modern policy's class
    from_name, from_address = _first_address(header_text(message, "From"))
    recipients: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        for _, address in getaddresses([header_text(message, name)]):
            address = address.strip().lower()
            if "@" in address and address not in recipients:
                recipients.append(address)
    text, attachments = _body_and_files(message)
    defects = [type(defect).__name__ for part in message.walk() for defect in part.defects]
    return ParsedMail(
        message=message,
        message_id=message_id_of(message, raw),
        from_address=from_address,
        from_name=from_name,
        recipients=recipients,
        subject=" ".join(header_text(message, "Subject").split())[:998],
        in_reply_to=_MESSAGE_ID.findall(header_text(message, "In-Reply-To")),
        references=_MESSAGE_ID.findall(header_text(message, "References")),
        text=text,
        attachments=attachments,
        defects=defects,
    )


def message_id_of(message: Message, raw: bytes) -> str:
    """The Message-ID as sent, or a stable one derived from the bytes when there is none."""
    found = _MESSAGE_ID.findall(header_text(message, "Message-ID"))
    if found:
        return str(found[0])[:998]
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def header_text(message: Message, name: str) -> str:
    """A header's decoded text ('' when absent), even when the modern policy chokes on it."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # noqa: BLE001, S110  # any parsing error: fall back to the raw value
        pass
    for key, raw_value in message.raw_items():
        if key.lower() == name.lower():
            try:
                return str(make_header(decode_header(str(raw_value))))
            except Exception:  # noqa: BLE001
                return str(raw_value)
    return ""


def _first_address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    address = address.strip().strip("<>").lower()
    if "@" not in address or any(ch.isspace() for ch in address):
        return name, ""
    return name.strip(), address


def normalize_address(address: str) -> tuple[str, str]:
    """(the address lower-cased, the same without its +tag): Ann+Desk@Example.org ->
    ('ann+desk@example.org', 'ann@example.org')."""
    address = address.strip().lower()
    local, _, domain = address.rpartition("@")
    base = local.split("+", 1)[0] if local else local
    return address, f"{base}@{domain}" if base else address


def decode_part(part: Message) -> str:
    """A text part's content: its declared charset if that works, else UTF-8, else cp1252."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset() or "utf-8"
    for charset in (declared, "utf-8"):
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", errors="replace")


def html_to_text(html: str) -> str:
    if not html.strip():
        return ""
    try:
        return str(get_text(html, _HTML_CONFIG)).strip()
    except Exception:  # noqa: BLE001  # lxml gives up on some markup: keep the words at least
        return re.sub(r"<[^>]*>", " ", html).strip()


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = part.get_content_disposition()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"):
        return False
    # Inline images, application parts, signatures: files, not the text.
    return part.get_content_type() != "text/enriched"


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if name:
        try:
            return str(make_header(decode_header(name)))
        except Exception:  # noqa: BLE001
            return str(name)
    subtype = part.get_content_subtype() or "bin"
    return f"part-{index}.{subtype}"


def _body_and_files(message: EmailMessage) -> tuple[str, list[MailAttachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[MailAttachment] = []
    for index, part in enumerate(message.walk()):
        content_type = part.get_content_type()
        if content_type == "message/rfc822" or content_type == "message/delivery-status":
            # The container has no text of its own; walk() visits the forwarded (or
            # returned) message's parts next, so its text joins this one, as clients show it.
            continue
        if part.is_multipart():
            continue
        if _is_attachment(part):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                attachments.append(MailAttachment(_filename(part, index), content_type, payload))
            continue
        text = decode_part(part)
        if part.get_content_subtype() == "html":
            html.append(text)
        else:
            plain.append(text)
    body = "\n\n".join(t.strip() for t in plain if t.strip())
    if not body and html:
        body = "\n\n".join(html_to_text(h) for h in html if h.strip())
    return _normalize_newlines(body).strip(), attachments


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


# ---------------------------------------------------------------- reply stripping

# "On <date>, <someone> wrote:" may be wrapped over up to three lines by the client.
_ON_WROTE = re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL)
_OTHER_HEADERS = (
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*(_{10,}|-{10,})\s*$"),  # Outlook's rule above the quoted headers
    re.compile(r"^\s*\*?From:\*?\s.+", re.IGNORECASE),  # Outlook without the rule
    re.compile(r"^\s*Le .{0,200} a écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am .{0,200} schrieb .{0,200}:\s*$", re.IGNORECASE),
)
_SIGNATURE_START = re.compile(r"^(--\s*|__+\s*)$")
_MOBILE_SIGNATURE = re.compile(r"^\s*Sent from my (\S+\s*){1,3}$", re.IGNORECASE)


def strip_reply(text: str) -> str:
    """The new text of a reply: quoted history, the line introducing it, and the trailing
    signature removed. Text written between quoted blocks stays."""
    lines = _normalize_newlines(text).split("\n")
    lines = _cut_at_history(lines)
    lines = _drop_quotes(lines)
    lines = _drop_signature(lines)
    return "\n".join(line.rstrip() for line in lines).strip()


def _cut_at_history(lines: list[str]) -> list[str]:
    """Remove the quoted history's introduction. Outlook-style history (headers, then the
    original unquoted) is cut with everything after it; an "On … wrote:" line followed only
    by quotes is cut with them; one followed by answers between the quotes (inline replies)
    loses only its own lines, and the quotes go later."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith(">"):
            index += 1
            continue
        end = _on_wrote_end(lines, index)
        if end is not None:
            rest = lines[end + 1 :]
            if _only_quotes_or_blank(rest):
                return lines[:index]
            lines = lines[:index] + rest
            continue
        if index > 0 and any(pattern.match(line) for pattern in _OTHER_HEADERS):
            if _OTHER_HEADERS[3].match(line) and not _looks_like_header_block(lines, index):
                index += 1
                continue
            return lines[:index]
        index += 1
    return lines


def _on_wrote_end(lines: list[str], index: int) -> int | None:
    """The index of the line ending an "On … wrote:" header starting at `index`, if any."""
    if not re.match(r"^\s*On\s", lines[index], flags=re.IGNORECASE):
        return None
    for end in range(index, min(index + 3, len(lines))):
        if end > index and not lines[end].strip():
            return None
        joined = " ".join(part.strip() for part in lines[index : end + 1])
        if _ON_WROTE.match(joined):
            return end
    return None


def _looks_like_header_block(lines: list[str], index: int) -> bool:
    following = " ".join(lines[index : index + 5]).lower()
    return "sent:" in following or "date:" in following or "subject:" in following


def _only_quotes_or_blank(lines: list[str]) -> bool:
    return all(not line.strip() or line.lstrip().startswith(">") for line in lines)


def _drop_quotes(lines: list[str]) -> list[str]:
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    # Collapse the blank runs the quotes left behind.
    result: list[str] = []
    for line in kept:
        if not line.strip() and result and not result[-1].strip():
            continue
        result.append(line)
    return result


def _drop_signature(lines: list[str]) -> list[str]:
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if _SIGNATURE_START.match(line) and index > 0:
            return lines[:index]
    for index in range(len(lines) - 1, -1, -1):
        if not lines[index].strip():
            continue
        if _MOBILE_SIGNATURE.match(lines[index]) and index > 0:
            return lines[:index]
        break
    return lines
