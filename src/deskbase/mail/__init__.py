"""The email channel: mailboxes, MIME parsing, threading, the inbound pipeline and the outbound outbox.

Every way mail comes in (the raw-MIME API route, later IMAP and the SMTP listener) feeds `ingest.Ingest`; every
agent reply on an email ticket goes out through the durable outbox: `queueing.py` reads the change log into it
(messages built by `outbound.py`, acknowledgements queued by `ack.py`), `sender.py` sends it over SMTP
(`smtp.py`) under the core's loop helper, and `delivery.py` keeps each reply's delivery state.
"""
