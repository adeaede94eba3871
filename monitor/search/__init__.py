"""Search in either language: the query language and the FTS5 search."""
