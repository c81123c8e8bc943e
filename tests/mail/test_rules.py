"""The pure threading and folding rules, from literal tables."""

from __future__ import annotations

import pytest

from deskbase.mail import rules
from deskbase.mail.fold import fold
from deskbase.mail.parse import id_list, message_key


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Re: Printer [#1042]", 1042),
        ("[#7] first [#8] last wins", 8),
        ("Invoice #1042", None),
        ("[#0] not a number", None),
        ("[#12a]", None),
    ],
)
def test_subject_number(subject: str, number: int | None) -> None:
    assert rules.subject_number(subject) == number


@pytest.mark.parametrize(
    ("recipients", "number"),
    [
        (["support+1042@acme.test"], 1042),
        (["SUPPORT+7@ACME.TEST"], 7),
        (["support+1042@other.test"], None),
        (["sales+1042@acme.test"], None),
        (["support+abc@acme.test", "support+05@acme.test"], None),
        (["support@acme.test"], None),
    ],
)
def test_plus_number(recipients: list[str], number: int | None) -> None:
    assert rules.plus_number(recipients, "support@acme.test") == number


def test_lookup_order_is_in_reply_to_then_references_newest_first() -> None:
    assert rules.lookup_order(["c"], ["a", "b", "c"]) == ["c", "b", "a"]
    assert rules.lookup_order([], ["a", "b"]) == ["b", "a"]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer on fire", "Re: Printer on fire [#5]"),
        ("RE: Fwd: AW: Printer [#5]", "Re: Printer [#5]"),
        ("Re[2]: Printer", "Re: Printer [#5]"),
        ("", "Re: (no subject) [#5]"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert rules.reply_subject(subject, 5) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("<abc@x>", "abc@x"),
        ("  <abc@x> (comment)", "abc@x"),
        ("abc@x", "abc@x"),
        ("", None),
        ("<>", None),
        ("two words", None),
    ],
)
def test_message_key(raw: str, key: str | None) -> None:
    assert message_key(raw) == key


def test_long_ids_become_digests_and_lists_keep_their_order() -> None:
    key = message_key(f"<{'x' * 300}@y>")
    assert key is not None and key.startswith("sha256:") and len(key) == 71
    assert id_list("<a@x> <b@x>\r\n <c@x>") == ["a@x", "b@x", "c@x"]


FOLDS = [
    ("Thanks!\n\nOn Mon, 2 Mar 2026 at 10:00, A <a@x> wrote:\n> old", "Thanks!"),
    ("Thanks!\n\nOn Mon, 2 Mar 2026 at 10:00, Somebody Long <a@x>\nwrote:\n> old", "Thanks!"),
    ("Danke\n\nAm 2. März 2026 um 10:00 schrieb A <a@x>:\n> alt", "Danke"),
    ("Yes\n\n-----Original Message-----\nFrom: A", "Yes"),
    ("Yes\n________________________________\nFrom: A <a@x>\nSent: Monday\n\nold", "Yes"),
    ("From: my point of view it works.\nThanks", "From: my point of view it works.\nThanks"),
    ("Done.\n\n-- \nAda\nACME", "Done."),
    ("Done.\n\nSent from my iPhone", "Done."),
    ("Top\n\n> quoted\n> more\n", "Top"),
    ("> quoted first\nanswer below", "> quoted first\nanswer below"),
    ("On Mon, A wrote:\n> only a quote", "On Mon, A wrote:\n> only a quote"),
]


@pytest.mark.parametrize(("text", "visible"), FOLDS)
def test_fold(text: str, visible: str) -> None:
    shown, folded = fold(text)
    assert shown == visible
    assert bool(folded) == (visible != text.strip())
