"""Typed page contexts of the email channel in the conversation: a message's envelope, its delivery state,
and the formatted (HTML) view's frame (see pages.py for the rule every context follows)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeliveryView:
    """Where an outbound reply is: a chip (icon and word, colour only adds) whose detail has the SMTP answer."""

    state: str  #: queued | sent | failed | bounced: a CSS class
    label: str  #: "Sent"
    icon: str
    answer: str | None  #: the mail server's last answer (or why no server answered)
    attempts: int
    at: str | None  #: when the state was reached


@dataclass(frozen=True)
class Recipients:
    """A header's addresses, the first few shown and the rest behind a disclosure."""

    shown: list[str]
    more: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MailView:
    """The email a message was received as or sent as."""

    direction: str  #: inbound | outbound
    sender: str  #: "Ana Garcia <ana@globex.example>" (the address alone without a display name)
    to: Recipients
    cc: Recipients
    date: str | None  #: the Date header (the message's time on the page is when it arrived)
    subject: str
    quoted: str  #: the quoted history and signature folded away from the body ("" when nothing was)
    frame_href: str | None  #: the formatted view (sanitised HTML in a sandboxed frame); None: text only
    frame_name: str  #: the frame's name: the remote-images link loads into it
    remote_images: int  #: images on other servers, not loaded until the agent asks
    remote_href: str | None  #: the formatted view with those images (None: the original is unreadable)
    original_href: str | None  #: the message as received or sent (.eml), when this viewer may read it
    delivery: DeliveryView | None  #: outbound replies only
    shortened: bool  #: the message was too long for a record; the original has all of it


@dataclass(frozen=True)
class EmailNotice:
    """Above the composer of an email ticket: who a reply goes to (an internal note never goes out)."""

    to: str | None  #: "Ana Garcia <ana@globex.example>"; None: the customer has no address (or is hidden)
    cc: list[str]
    hidden: bool = False  #: the viewer may not read the customer, so the address is not shown


@dataclass
class MessageFrame:
    """The document inside a message's formatted-view frame: the sanitised HTML, `cid:` images pointing at
    the console's file route."""

    html: str  #: sanitised on the way out (mail/display.py), then inline images rewritten
