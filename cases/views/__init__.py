"""Server-rendered views, one module per area. Each parses, calls one service or selector,
renders; htmx requests get a partial (see helpers.partial_or_page)."""
