"""Outbound triggers (webhooks): trigger store, event building, matching, signing, SSRF policy, delivery.

The change log and the SLA event table are the outbox; the dispatcher (`dispatcher.py`) runs under the core's
loop helper: its fan-out (`fanout.py`) tails them and queues deliveries, its lanes post them through the sender
(`sender.py`), signed per Standard Webhooks, and store the outcomes (`outcomes.py`).
"""
