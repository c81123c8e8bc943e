"""Outbound triggers (webhooks): trigger store, event building, matching, signing, SSRF policy, delivery.

The change log and the SLA event table are the outbox; the dispatcher (`dispatcher.py`) tails them under the
core's loop helper and records deliveries; the sender (`sender.py`) posts them, signed per Standard Webhooks.
"""
