"""HTTP API adapter (FastAPI): routes call the core and nothing else."""
