"""The support domain, built on the generic core: the template, demo data, response tracking and SLAs.

Kept import-free so the pure modules (calendar, policy, evaluate) can be imported without the core;
`deskbase.support.install.install(core)` wires the domain into a core.
"""
