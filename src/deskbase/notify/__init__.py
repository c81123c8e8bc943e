"""Notifications: who is told what about a ticket (assigned to you, a customer replied, an @mention, an SLA
warning or breach), derived from the change log and the SLA events by one background loop, read in the
console's bell, the API and a live stream, and optionally mailed."""
