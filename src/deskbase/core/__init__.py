"""The system of record: workspaces, collections, records, relationships and the change log."""
