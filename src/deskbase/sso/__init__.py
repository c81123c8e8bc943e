"""OpenID Connect single sign-on: the provider's settings, the relying party (HTTP, authlib) and the service
that turns a provider's answer into a user of the core. Installed on the core by compose.py, like mail and
notifications; the core keeps only the tables (core/sso_tables.py)."""
