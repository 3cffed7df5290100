import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.web.portal.conftest import ELF, png, snapshot
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db


def _form(community, **overrides):
    return {
        "community": community.pk,
        "kind": "incident",
        "severity": "high",
        "subject": "Kernels die on start",
        "description": "Since 9:00 every **kernel** dies.",
        **overrides,
    }


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/portal/new/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=/portal/new/",
    )


def test_the_form_explains_every_kind_and_severity(as_user, member):
    html = as_user(member).get("/portal/new/").content.decode()

    for explanation in [
        "Something that worked is broken or degraded for your community. Incidents are handled before everything else.",
        "A change to your community&#x27;s service.",
        "Advice on how to do something with the service.",
        "Prepare the service for a workshop or event on a given date",
        "Anything else.",
        "Production system down, a security breach, data corruption, or the service completely unavailable.",
        "Significant slowdown, a feature completely broken, a security vulnerability, or many users affected.",
        "Partly working, a workaround exists, or one user affected.",
        "Documentation questions, feature requests, best-practice guidance or training.",
    ]:  # fmt: skip
        assert explanation in html
    assert (
        '<input type="radio" name="kind" value="incident" id="id_kind_0" required '
        'aria-describedby="id_kind_0_help"> Incident</label>' in html
    )
    assert '<small id="id_kind_0_help" class="choice-help">' in html
    assert "Markdown works here" in html


def test_the_current_community_is_preselected_and_only_the_users_are_offered(
    as_user, community, member
):
    other = CommunityFactory.create(name="Zebra hub")
    MembershipFactory.create(community=other, user=member)
    CommunityFactory.create(name="Not mine")
    client = as_user(member)
    client.post("/portal/community/", {"community": other.slug})

    form = client.get("/portal/new/").context["form"]

    assert list(form.fields["community"].queryset) == [community, other]
    assert form["community"].value() == other.pk


def test_a_representatives_request_opens_directly(as_user, community, representative):
    response = as_user(representative).post("/portal/new/", _form(community), follow=True)

    ticket = Ticket.objects.get()
    assert response.redirect_chain == [(f"/portal/tickets/{ticket.reference}/", 302)]
    assert (ticket.status, ticket.kind, ticket.severity, ticket.channel, ticket.requester) == (
        "new", "incident", "high", "portal", representative,
    )  # fmt: skip
    assert [str(m) for m in response.context["messages"]] == [
        f"{ticket.reference} is open: the support team will be in touch."
    ]
    assert b"waits for approval" not in response.content


def test_a_members_request_waits_for_a_named_representative(as_user, community, member):
    for first, last in [("Bo", "Li"), ("Ada", "Ray")]:
        MembershipFactory.create(
            community=community,
            role="representative",
            user__first_name=first,
            user__last_name=last,
            user__email=f"{first.lower()}@example.org",  # representatives come by address
        )

    response = as_user(member).post("/portal/new/", _form(community), follow=True)

    ticket = Ticket.objects.get()
    assert ticket.status == "awaiting_approval"
    assert [str(m) for m in response.context["messages"]] == [
        f"{ticket.reference} now waits for one of {community.name}'s representatives to "
        "approve it: Ada Ray or Bo Li. They have been asked by email."
    ]
    html = response.content.decode()
    assert (
        "<strong>This request waits for approval</strong> by one of "
        f"{community.name}'s representatives: Ada Ray or Bo Li." in html
    )


def test_the_form_says_beforehand_who_approves_a_members_request(as_user, community, member):
    MembershipFactory.create(
        community=community, role="representative", user__first_name="Ada", user__last_name="Ray"
    )

    html = as_user(member).get("/portal/new/").content.decode()

    assert (
        "your request waits until one of the community's representatives approves it (Ada Ray)"
        in html
    )


def test_files_are_saved_on_the_first_message(as_user, community, representative):
    as_user(representative).post(
        "/portal/new/",
        _form(
            community,
            attachments=[png("one.png"), SimpleUploadedFile("log.txt", b"error at line 3\n")],
        ),
    )

    message = Message.objects.get()
    assert sorted(
        Attachment.objects.filter(message=message).values_list("filename", "content_type")
    ) == [("log.txt", "text/plain"), ("one.png", "image/png")]


def test_a_refused_file_is_shown_beside_the_field_and_nothing_is_created(
    as_user, community, representative
):
    before = snapshot()
    upload = SimpleUploadedFile("report.pdf", ELF, content_type="application/pdf")

    response = as_user(representative).post(
        "/portal/new/", _form(community, attachments=[png(), upload])
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "attachments": ["Files of type application/x-executable are not accepted."]
    }
    assert (
        '<small id="id_attachments_error" class="error" role="alert">'
        "Files of type application/x-executable are not accepted.</small>"
    ) in response.content.decode()
    assert snapshot() == before


def test_a_file_over_the_size_limit_is_refused(as_user, community, representative, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    before = snapshot()

    response = as_user(representative).post(
        "/portal/new/",
        _form(community, attachments=[SimpleUploadedFile("big.txt", b"x" * 1025)]),
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {"attachments": ["Files may be at most 0 MB."]}
    assert snapshot() == before


def test_an_empty_subject_shows_its_error(as_user, community, representative):
    response = as_user(representative).post("/portal/new/", _form(community, subject="  "))

    assert response.status_code == 400
    assert response.context["form"].errors == {"subject": ["This field is required."]}
    assert 'id="id_subject_error"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_blank_description_is_refused(as_user, community, representative):
    response = as_user(representative).post("/portal/new/", _form(community, description=""))

    assert response.context["form"].errors == {"description": ["This field is required."]}
    assert not Ticket.objects.exists()


def test_a_community_the_user_is_not_in_is_refused(as_user, member):
    foreign = CommunityFactory.create()

    response = as_user(member).post("/portal/new/", _form(foreign))

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "community": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not Ticket.objects.exists()


def test_an_inactive_community_refuses_requests_beside_the_field(as_user, community, member):
    community.active = False
    community.save()

    response = as_user(member).post("/portal/new/", _form(community))

    assert response.context["form"].errors == {
        "community": [f"{community.name} no longer accepts requests."]
    }
    assert not Ticket.objects.exists()


def test_someone_in_no_community_gets_no_form(as_user, stranger):
    response = as_user(stranger).get("/portal/new/")

    assert response.status_code == 200
    assert b"you are not a member of one" in response.content
    assert b'name="subject"' not in response.content
