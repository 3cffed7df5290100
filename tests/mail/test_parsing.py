"""Parsing and reply stripping, measured against the shared corpus."""

from __future__ import annotations

import pytest

from tests.mail.corpus import BODIES, CORPUS
from tests.mail.mime import raw_mail
from tickets.mail.parsing import normalize_address, parse_mail, strip_reply

# file -> (the visible reply starts with, ends with, text that must be gone)
REPLIES = {
    "correct_sig.txt": ("this is an email", "correct -- signature.", "rick"),
    "email_1_1.txt": ("Hi folks", "-Abhishek Kona", "riak-users mailing list"),
    "email_1_2.txt": ("Hi,", 'delete them all individually."', "riak-users mailing list"),
    "email_1_3.txt": ("Oh thanks.", "-Abhishek Kona", "Russell Brown wrote"),
    "email_1_4.txt": ("Awesome!", "problem with it.", "Loader seems"),
    "email_1_5.txt": ("One: Here's what I've got.", "", "wrote:"),
    "email_1_6.txt": ("I get proper rendering", "torch of pixels", "caching related"),
    "email_1_7.txt": (":+1:", ":+1:", "Steps 0-2"),
    "email_1_8.txt": ("I will reply under this one", "and under this.", "okay?"),
    "email_2_1.txt": ("Outlook with a reply", "Outlook with a reply", "Google Apps Sync"),
    "email_2_2.txt": ("Outlook with a reply", "directly above line", "CRM Comments"),
    "email_2_3.txt": ("Outlook with a reply", "directly above line", "CRM Comments"),
    "email_BlackBerry.txt": ("Here is another email", "Here is another email", "BlackBerry"),
    "email_bullets.txt": ("test 2 this should", "   - and another", "Joe Smith"),
    "email_iPhone.txt": ("Here is another email", "Here is another email", "iPhone"),
    "email_long_quote.txt": ("Hi folks", "", "riak-users mailing list"),
    "email_multi_word_sent_from_my_mobile_device.txt": (
        "Here is another email",
        "Here is another email",
        "Verizon",
    ),
    "email_one_is_not_on.txt": ("Thank, this is", "when I run...", "Dave Tapley wrote"),
    "email_sent_from_my_not_signature.txt": (
        "Here is another email",
        "Sent from my desk, is much easier then my mobile phone.",
        "\x00",
    ),
    "email_sig_delimiter_in_middle_of_line.txt": ("Hi there!", "kthxbai", "\x00"),
    "greedy_on.txt": ("On your remote host", "the tunnel is not working.", "George Plymale"),
    "pathological.txt": ("I think you're onto", "back to a computer.", "John Sullivan"),
}


def test_the_table_covers_every_body_file():
    files = {p.name for p in BODIES.glob("*.txt") if p.name not in ("SOURCE.txt", "LICENSE.txt")}
    assert files == set(REPLIES)


@pytest.mark.parametrize(("name", "expected"), sorted(REPLIES.items()))
def test_reply_stripping_table(name, expected):
    start, end, gone = expected
    text = (BODIES / name).read_text(encoding="utf-8", errors="replace")

    visible = strip_reply(text)

    assert visible.startswith(start)
    assert visible.endswith(end)
    assert gone not in visible
    assert ">" not in visible.splitlines()[0]


def test_inline_answers_between_quotes_are_kept():
    text = "On Tue, Ann wrote:\n> first question?\n\nYes.\n\n> second?\n\nNo.\n"

    assert strip_reply(text) == "Yes.\n\nNo."


def test_a_wrapped_on_wrote_line_is_recognised():
    text = "Fine.\n\nOn Dec 16, 2011, at 12:47 PM, Corey\n<reply@example.com>\nwrote:\n\n> old\n"

    assert strip_reply(text) == "Fine."


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ann@Example.ORG", ("ann@example.org", "ann@example.org")),
        ("ann+desk@example.org", ("ann+desk@example.org", "ann@example.org")),
        ("ANN+a+b@example.org", ("ann+a+b@example.org", "ann@example.org")),
    ],
)
def test_addresses_are_compared_lower_case_without_their_plus_tag(given, expected):
    assert normalize_address(given) == expected


def test_a_wrongly_declared_charset_is_read_as_utf8():
    raw = (
        b"From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=us-ascii\n\n"
        b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n"
    )

    assert parse_mail(raw).text == "Grüße aus Köln"


def test_an_unknown_charset_falls_back_without_an_error():
    raw = b"From: a@b.example\nContent-Type: text/plain; charset=x-nonsense\n\ncaf\xe9\n"

    assert parse_mail(raw).text == "café"


def test_encoded_headers_and_attachment_names_are_decoded():
    raw = raw_mail(
        sender="=?utf-8?q?J=C3=BCrgen?= <j@example.org>",
        subject="Stra\u00dfe gesperrt",
        attachments=[("Übersicht.csv", "text/csv", b"a,b\n1,2\n")],
    )

    parsed = parse_mail(raw)

    assert (parsed.from_name, parsed.from_address) == ("Jürgen", "j@example.org")
    assert parsed.subject == "Straße gesperrt"
    assert [(a.filename, a.payload) for a in parsed.attachments] == [
        ("Übersicht.csv", b"a,b\n1,2\n")
    ]


def test_a_forwarded_message_keeps_its_text():
    parsed = parse_mail((CORPUS / "django-helpdesk" / "forwarded-message.eml").read_bytes())

    assert parsed.text
    assert parsed.from_address


def test_a_message_with_a_missing_body_has_empty_text():
    parsed = parse_mail(b"From: a@b.example\nSubject: nothing\n")

    assert (parsed.text, parsed.attachments) == ("", [])


def test_a_message_id_is_derived_from_the_bytes_when_missing():
    raw = b"From: a@b.example\nSubject: x\n\nhello\n"

    assert parse_mail(raw).message_id == parse_mail(raw).message_id
    assert parse_mail(raw).message_id != parse_mail(raw + b"!").message_id
