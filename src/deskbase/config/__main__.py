"""`python -m deskbase.config` prints docs/configuration.md."""

from deskbase.config.docs import render_docs

print(render_docs(), end="")
