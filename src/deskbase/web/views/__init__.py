"""Console views: one module per page (routes call the core and render a typed page context)."""
