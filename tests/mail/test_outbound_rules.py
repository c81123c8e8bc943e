"""The pure parts of outbound mail, from literal tables: what an SMTP answer leads to, the thread headers a
reply carries, its HTML part, and the MIME text it is built as (7-bit, CRLF, headers encoded)."""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest

from deskbase.mail.delivery import outcome
from deskbase.mail.outbound import REFERENCES_KEPT, Attachment, Draft, build, html_of, thread_headers
from tests.conftest import START

SCHEDULE = (10.0, 20.0)


@pytest.mark.parametrize(
    ("code", "attempts", "jitter", "status", "wait"),
    [
        (250, 1, 0.0, "sent", None),
        (251, 3, 0.0, "sent", None),
        (550, 1, 0.0, "failed", None),
        (554, 2, 0.5, "failed", None),
        (451, 1, 0.0, "queued", 10.0),
        (421, 2, 0.5, "queued", 21.0),  # up to 10% jitter on the wait
        (None, 1, 0.999, "queued", 10.999),
        (451, 3, 0.0, "failed", None),  # the schedule is used up
        (None, 3, 0.0, "failed", None),
        (354, 1, 0.0, "queued", 10.0),  # an answer that makes no sense here is not final
    ],
    ids=["250", "251", "550", "554", "451", "421-jitter", "no-answer", "451-last", "none-last", "odd"],
)
def test_outcome(code: int | None, attempts: int, jitter: float, status: str, wait: float | None) -> None:
    out = outcome(code, attempts, SCHEDULE, START, jitter)
    assert out.status == status
    assert out.next_attempt_at == (None if wait is None else START + timedelta(seconds=wait))


def test_no_schedule_means_no_retry() -> None:
    assert outcome(451, 1, (), START, 0.0).status == "failed"


@pytest.mark.parametrize(
    ("keys", "in_reply_to", "references"),
    [
        ([], None, []),
        (["a@x"], "a@x", ["a@x"]),
        (["a@x", "sha256:ff", "b@x"], "b@x", ["a@x", "b@x"]),
        (["sha256:ff"], None, []),
        ([f"m{i}@x" for i in range(30)], "m29@x", ["m0@x", *[f"m{i}@x" for i in range(11, 30)]]),
    ],
    ids=["empty", "one", "digest-skipped", "only-digest", "long-thread"],
)
def test_thread_headers(keys: list[str], in_reply_to: str | None, references: list[str]) -> None:
    assert thread_headers(keys) == (in_reply_to, references)
    assert len(references) <= REFERENCES_KEPT


@pytest.mark.parametrize(
    ("text", "given", "html"),
    [
        ("Hi", None, "<p>Hi</p>\n"),
        ("a <b> & c\nline two\n\n\nnext", None, "<p>a &lt;b&gt; &amp; c<br>\nline two</p>\n<p>next</p>\n"),
        ("ignored", '<p onclick="x()">Hi <script>bad()</script><b>there</b></p>', "<p>Hi <b>there</b></p>"),
    ],
    ids=["plain", "escaped", "sanitised"],
)
def test_html_part(text: str, given: str | None, html: str) -> None:
    assert html_of(text, given) == html


def test_the_message_is_seven_bit_crlf_with_encoded_headers() -> None:
    draft = Draft(
        sender=("Acme Süpport", "support@acme.test"),
        to=[("Zoë Ünicode", "zoe@example.com")],
        cc=["bob@example.com", "zoe@example.com"],
        subject="Re: Ça ne marche pas [#7]",
        message_id="deskbase.1@acme.test",
        date=START,
        text="Voilà: " + "x" * 200,
        html="<p>Voilà</p>",
        in_reply_to="a@x",
        references=["a@x"],
        attachments=[Attachment("résumé.eml", "message/rfc822", iter([b"From: x\r\n", b"\r\nhi\xff"]))],
        headers={"Auto-Submitted": "auto-replied"},
    )
    raw = build(draft)
    assert raw.isascii() and "\r\n" in raw and "\n" not in raw.replace("\r\n", "")
    assert all(len(line) <= 998 for line in raw.split("\r\n"))
    msg = BytesParser(policy=policy.default).parsebytes(raw.encode())
    assert msg["From"] == "Acme Süpport <support@acme.test>" and msg["To"] == "Zoë Ünicode <zoe@example.com>"
    assert msg["Subject"] == "Re: Ça ne marche pas [#7]" and msg["Message-ID"] == "<deskbase.1@acme.test>"
    assert msg["In-Reply-To"] == "<a@x>" and msg["Auto-Submitted"] == "auto-replied"
    assert draft.recipients == ["zoe@example.com", "bob@example.com"]
    assert msg.get_body(("plain",)).get_content().startswith("Voilà: xxx")  # type: ignore[union-attr]
    (att,) = msg.iter_attachments()
    # message/* may not be base64-encoded (RFC 2046): it travels as an opaque file, bytes intact.
    assert att.get_content_type() == "application/octet-stream" and att.get_filename() == "résumé.eml"
    assert att.get_content() == b"From: x\r\n\r\nhi\xff"


def test_line_breaks_typed_into_a_subject_or_a_name_stay_inside_their_header() -> None:
    draft = Draft(
        sender=("Acme\r\nBcc: eve@evil.test", "support@acme.test"),
        to=[("Ada", "ada@example.com")],
        cc=[],
        subject="Re: two\nlines\r\nX-Injected: yes [#1]",
        message_id="deskbase.2@acme.test",
        date=START,
        text="hi",
    )
    msg = BytesParser(policy=policy.default).parsebytes(build(draft).encode())
    assert msg["Subject"] == "Re: two lines X-Injected: yes [#1]"
    assert (
        "X-Injected" not in msg
        and "Bcc" not in msg
        and msg["From"].addresses[0].addr_spec == "support@acme.test"
    )
