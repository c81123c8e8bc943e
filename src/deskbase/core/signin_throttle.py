"""The sign-in throttle: failed password checks counted per account and per client address, in the store.

After a number of free failures every further failure makes the key wait before its next attempt: 2 s, then
twice as long each time, up to a cap. While a key waits, attempts are refused without checking the password,
so guessing is bounded however fast an attacker sends. The account key is a digest of the email as typed, so
an address that has no account is throttled exactly like one that has (the answer never tells them apart),
and the store holds no list of emails someone tried. A success clears the account's count (not the
address's: one good account must not unlock guessing at others). A key's count is forgotten a day after its
last failure. Counts live in the primary store, so every server process shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from deskbase.config import Settings
from deskbase.core.clock import Clock
from deskbase.core.db import Database
from deskbase.core.errors import RateLimited
from deskbase.core.people_tables import signin_failures as sf

FIRST_WAIT_SECONDS = 2
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Key:
    key: str
    free: int  #: failures allowed before waits begin


def account_key(email: str) -> str:
    return "acct:" + hashlib.sha256(email.strip().casefold().encode()).hexdigest()


def address_key(address: str | None) -> str | None:
    """The client's address; IPv6 by its /64, the block one subscriber usually holds."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "addr:" + address[:64]
    if ip.version == 6:
        return "addr:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return "addr:" + str(ip)


class Throttle:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.account_free = settings.signin_free_failures_account
        self.address_free = settings.signin_free_failures_address
        self.max_wait = settings.signin_max_wait_seconds

    def keys(
        self, email: str, address: str | None, prefix: str = "", free: tuple[int, int] | None = None
    ) -> list[Key]:
        """The account's and the address's keys; `prefix` and `free` count another kind of request (password
        reset emails) apart from sign-ins, in the same table."""
        account_free, address_free = free or (self.account_free, self.address_free)
        out = [Key(prefix + account_key(email), account_free)]
        addr = address_key(address)
        if addr is not None:
            out.append(Key(prefix + addr, address_free))
        return out

    def check(self, keys: list[Key]) -> None:
        """RateLimited (with the seconds to wait) while any key waits; the message is the same for all."""
        now = self.clock.now()
        with self.db.read() as conn:
            rows = conn.execute(
                select(sf.c.blocked_until).where(
                    sf.c.key.in_([k.key for k in keys]), sf.c.blocked_until > now
                )
            ).all()
        if rows:
            until = max(r.blocked_until for r in rows)
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise RateLimited(
                f"too many failed sign-in attempts; try again in {wait} s",
                {"retry_after": wait},
            )

    def failed(self, keys: list[Key]) -> None:
        now = self.clock.now()
        with self.db.tx() as tx:
            for k in keys:
                row = tx.conn.execute(select(sf).where(sf.c.key == k.key)).first()
                count = 1 if row is None or now - row.last_failure_at > FORGET_AFTER else row.failures + 1
                blocked = self._until(now, count - k.free)
                if row is None:
                    tx.conn.execute(
                        insert(sf).values(
                            key=k.key, failures=count, last_failure_at=now, blocked_until=blocked
                        )
                    )
                else:
                    tx.conn.execute(
                        update(sf)
                        .where(sf.c.key == k.key)
                        .values(failures=count, last_failure_at=now, blocked_until=blocked)
                    )
            # Forgotten counts go when failures are written (never on a read path).
            tx.conn.execute(delete(sf).where(sf.c.last_failure_at < now - FORGET_AFTER))

    def _until(self, now: datetime, over: int) -> datetime | None:
        if over <= 0:
            return None
        wait = min(self.max_wait, FIRST_WAIT_SECONDS * 2 ** min(over - 1, 30))
        return now + timedelta(seconds=wait)

    def succeeded(self, email: str) -> None:
        with self.db.tx() as tx:
            tx.conn.execute(delete(sf).where(sf.c.key == account_key(email)))
