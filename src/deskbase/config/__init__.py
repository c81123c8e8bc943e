"""One settings registry: each setting has a name, default, type and help; env DESKBASE_<NAME> overrides it.

The same registry feeds `deskbase serve --help`, docs/configuration.md and the code, so they cannot drift:
`python -m deskbase.config > docs/configuration.md` regenerates the page.
"""

from deskbase.config.docs import DOC_HEADER, describe, render_docs
from deskbase.config.settings import Settings

__all__ = ["DOC_HEADER", "Settings", "describe", "render_docs"]
