"""Search over events: the query parameters, and the SQL they compose into."""
