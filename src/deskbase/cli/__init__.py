"""The `deskbase` command line: a thin HTTP client of the API, plus `serve`."""
