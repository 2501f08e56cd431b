"""The DuckDB warehouse: schema migrations, the single-writer connection, idempotent loads."""
