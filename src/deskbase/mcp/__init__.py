"""The MCP adapter: AI agents work tickets through the same core, with the same scopes.

Like `api/` and `cli/` it owns no rule: each tool checks what the equivalent REST route checks and calls the
same core and support services with the token's actor (`source: mcp` in the change log). Served over
streamable HTTP at `/mcp` (and `/mcp/w/{ws}`, tools generated from a workspace's collections) by `http.py`,
and over stdio by `deskbase mcp` (`stdio.py`).
"""
