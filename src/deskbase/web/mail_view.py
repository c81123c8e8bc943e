"""A message's email as the conversation shows it, from its response's `mail` field (written by the mail
package): the envelope, the folded history, the links to the formatted view and the original, and the
delivery state of an outbound reply. Nothing here is read from anywhere but the record and the files the
viewer may read."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, unquote

from deskbase.web.mail_pages import DeliveryView, EmailNotice, MailView, Recipients
from deskbase.web.ticket_pages import Attachment

#: addresses shown before "and N more" (a reply-all thread can copy dozens)
SHOWN_ADDRESSES = 3
DELIVERY = {
    "queued": ("Queued", "◷"),
    "sent": ("Sent", "✓"),
    "failed": ("Failed", "✕"),
    "bounced": ("Bounced", "↩"),
}
_CID_SRC = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)


def frame_href(workspace_id: str, response_id: str, remote: bool = False) -> str:
    href = f"/w/{quote(workspace_id)}/messages/{quote(response_id)}/html"
    return href + "?remote=1" if remote else href


def mail_of(data: dict[str, Any]) -> dict[str, Any] | None:
    mail = data.get("mail")
    return mail if isinstance(mail, dict) else None


def person(name: Any, address: Any) -> str:
    name, address = str(name or "").strip(), str(address or "").strip()
    if name and address and name.lower() != address.lower():
        return f"{name} <{address}>"
    return address or name


def recipients(values: Any) -> Recipients:
    found = [str(v) for v in values if isinstance(v, str) and v] if isinstance(values, list) else []
    return Recipients(found[:SHOWN_ADDRESSES], found[SHOWN_ADDRESSES:])


def delivery(mail: dict[str, Any]) -> DeliveryView | None:
    d = mail.get("delivery")
    if not isinstance(d, dict) or d.get("state") not in DELIVERY:
        return None
    label, icon = DELIVERY[d["state"]]
    attempts = d.get("attempts")
    return DeliveryView(
        state=d["state"],
        label=label,
        icon=icon,
        answer=str(d["answer"]) if d.get("answer") else None,
        attempts=attempts if isinstance(attempts, int) else 0,
        at=str(d["at"]) if d.get("at") else None,
    )


def quoted(body: str, mail: dict[str, Any]) -> str:
    """What folding took out of the body: the full text after the body (all of it if it does not start so)."""
    full = mail.get("full_body")
    if not mail.get("folded") or not isinstance(full, str):
        return ""
    full = full.strip()
    return full[len(body) :].strip() if full.startswith(body.strip()) else full


def view(workspace_id: str, response: dict[str, Any], files: dict[str, Attachment]) -> MailView | None:
    """The email of this response (None for a message that is not one). `files`: the attachments (and
    originals) the viewer may read, by id."""
    data = response.get("data") or {}
    mail = mail_of(data)
    if mail is None:
        return None
    rid = response["id"]
    original = data.get("original")
    readable_original = files.get(original) if isinstance(original, str) else None
    has_html = isinstance(mail.get("html"), str) and bool(mail["html"].strip())
    remote = mail.get("remote_images")
    remote = remote if isinstance(remote, int) and remote > 0 else 0
    return MailView(
        direction=str(mail.get("direction") or "inbound"),
        sender=person(mail.get("from_name"), mail.get("from")),
        to=recipients(mail.get("to")),
        cc=recipients(mail.get("cc")),
        date=str(mail["date"]) if mail.get("date") else None,
        subject=str(mail.get("subject") or ""),
        quoted=quoted(str(data.get("body") or ""), mail),
        frame_href=frame_href(workspace_id, rid) if has_html else None,
        frame_name=f"mframe-{rid}",
        remote_images=remote if has_html else 0,
        remote_href=frame_href(workspace_id, rid, remote=True)
        if has_html and remote and readable_original
        else None,
        original_href=readable_original.href if readable_original else None,
        delivery=delivery(mail),
        shortened=bool(mail.get("shortened")),
    )


def original_id(data: dict[str, Any]) -> list[str]:
    """The stored original's file id, as a list to add to those a page looks up."""
    value = data.get("original")
    return [value] if isinstance(value, str) and mail_of(data) is not None else []


def inline_images(source: str, inline: dict[str, Any], files: dict[str, Attachment]) -> str:
    """`cid:` image sources pointed at the console's file route, for the inline images the viewer may read
    and a browser shows inline (any other `cid:` source is dropped: it would only be a broken image)."""

    def swap(m: re.Match[str]) -> str:
        cid = unquote(html.unescape(m.group(1))).strip().strip("<>")
        fid = inline.get(cid)
        found = files.get(fid) if isinstance(fid, str) else None
        return f'src="{html.escape(found.href)}"' if found is not None and found.image else 'src=""'

    return _CID_SRC.sub(swap, source)


def email_notice(
    ticket: dict[str, Any], customer: dict[str, Any] | None, readable: bool
) -> EmailNotice | None:
    """Who a reply on this ticket is emailed to, for tickets whose channel is email: the customer (when the
    viewer may read them) and the thread's Cc."""
    data = ticket.get("data") or {}
    if data.get("channel") != "email":
        return None
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    cc = [str(a) for a in (mail or {}).get("cc") or [] if isinstance(a, str)]
    if not readable:
        return EmailNotice(None, cc, hidden=True)
    c = (customer or {}).get("data") or {}
    to = person(c.get("name"), c.get("email")) if c.get("email") else None
    return EmailNotice(to, cc)
