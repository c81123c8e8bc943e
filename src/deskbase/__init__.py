"""deskbase: a self-hosted system of record for customer support."""

__version__ = "0.1.0"
