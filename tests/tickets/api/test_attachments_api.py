import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.models import Attachment

pytestmark = pytest.mark.django_db

# The smallest valid PNG: 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 100


def _upload(api_as, user, ticket, content, name, content_type="application/octet-stream", **extra):
    return api_as(user).post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type), **extra},
        format="multipart",
    )


def test_a_member_uploads_a_screenshot_and_downloads_it_again(api_as, community, member):
    ticket = TicketFactory.create(community=community, requester=member)

    response = _upload(api_as, member, ticket, PNG, "../../etc/screen shot.png", "text/html")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["filename"], body["content_type"], body["size"], body["sha256"]) == (
        "screen shot.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest(),
    )  # fmt: skip
    stored = Attachment.objects.get()
    assert stored.file.name == f"attachments/{stored.sha256[:2]}/{stored.sha256}"

    download = api_as(member).get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == 'attachment; filename="screen shot.png"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_plain_text_logs_are_accepted_by_content(api_as, agent):
    ticket = TicketFactory.create()

    response = _upload(api_as, agent, ticket, "naïve log line\n".encode() * 50, "hub.log")

    assert response.status_code == 201
    assert response.json()["content_type"] == "text/plain"


def test_a_file_whose_bytes_are_not_an_accepted_type_is_refused(api_as, agent):
    ticket = TicketFactory.create()

    response = _upload(api_as, agent, ticket, ELF, "report.pdf", "application/pdf")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "attachment_type_refused",
            "detail": "Files of type application/x-executable are not accepted.",
            "attr": "file",
        }
    ]
    assert not Attachment.objects.exists()


def test_a_file_over_the_limit_is_refused(api_as, agent, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    ticket = TicketFactory.create()

    response = _upload(api_as, agent, ticket, b"a" * 1025, "big.txt")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "attachment_too_large"
    assert not Attachment.objects.exists()


def test_an_empty_file_is_refused(api_as, agent):
    ticket = TicketFactory.create()

    response = _upload(api_as, agent, ticket, b"", "empty.txt")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "file"


def test_files_on_internal_notes_are_for_agents_only(api_as, community, member, agent):
    ticket = TicketFactory.create(community=community, requester=member)
    note = MessageFactory.create(ticket=ticket, author=agent, kind="internal")
    response = _upload(api_as, agent, ticket, PNG, "trace.png", message=note.pk)
    attachment_id = response.json()["id"]

    assert response.status_code == 201
    assert api_as(member).get(f"/api/v1/attachments/{attachment_id}/download/").status_code == 404
    assert (
        api_as(member).get(f"/api/v1/tickets/{ticket.reference}/attachments/").json()["results"]
        == []
    )
    assert api_as(agent).get(f"/api/v1/attachments/{attachment_id}/download/").status_code == 200


def test_a_member_cannot_attach_to_an_internal_note(api_as, community, member, agent):
    ticket = TicketFactory.create(community=community, requester=member)
    note = MessageFactory.create(ticket=ticket, author=agent, kind="internal")

    response = _upload(api_as, member, ticket, PNG, "x.png", message=note.pk)

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "message"
    assert not Attachment.objects.exists()


def test_the_same_bytes_are_stored_once(api_as, agent):
    first, second = TicketFactory.create(), TicketFactory.create()

    _upload(api_as, agent, first, PNG, "a.png")
    _upload(api_as, agent, second, PNG, "b.png")

    names = set(Attachment.objects.values_list("file", flat=True))
    assert len(names) == 1
    assert Attachment.objects.count() == 2
