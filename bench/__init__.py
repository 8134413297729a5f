"""The search benchmark: synthetic events in PostgreSQL, measured over HTTP and SQL."""
