"""Threading and addressing rules (pure): which ticket a message may belong to, in the order they are tried.

1. `In-Reply-To`, then `References` newest first: Message-IDs of stored messages (Outlook sends References
   without In-Reply-To; a client that trims References still has In-Reply-To).
2. The ticket number tag in the subject, `[#1042]` (the last one, as replies keep ours at the end).
3. Plus-addressing: `support+1042@example.com` for the mailbox `support@example.com`.
Otherwise a new ticket. Never by subject text alone: two customers writing "Invoice" are two tickets.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"\[#([1-9][0-9]{0,15})\]")
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw)\s*(\[\d+\])?\s*:\s*)+", re.I)


def lookup_order(in_reply_to: list[str], references: list[str]) -> list[str]:
    """The Message-IDs to look up, most specific first, each once."""
    out: list[str] = []
    for key in [*in_reply_to, *reversed(references)]:
        if key not in out:
            out.append(key)
    return out


def subject_number(subject: str) -> int | None:
    found = _TAG.findall(subject)
    return int(found[-1]) if found else None


def plus_number(recipients: list[str], mailbox_address: str) -> int | None:
    """The ticket number in a `local+N@domain` recipient of this mailbox."""
    local, _, domain = mailbox_address.partition("@")
    for addr in recipients:
        a_local, _, a_domain = addr.lower().partition("@")
        base, plus, tag = a_local.partition("+")
        if plus and base == local and a_domain == domain and tag.isdigit() and not tag.startswith("0"):
            return int(tag)
    return None


def reply_subject(subject: str, number: int | None) -> str:
    """`Re: <subject> [#1042]`: one Re:, whatever prefixes the thread collected, and our tag once, at the end."""
    base = _TAG.sub("", _PREFIX.sub("", subject)).strip() or "(no subject)"
    return f"Re: {base}" + (f" [#{number}]" if number is not None else "")
