"""Why the warehouse could not be opened; importable without DuckDB (the CLI catches these)."""


class WarehouseBusyError(RuntimeError):
    """Another process holds the warehouse writer lock for longer than we are willing to wait."""


class WarehouseDamagedError(RuntimeError):
    """The warehouse file cannot be opened: the write-ahead log a crashed writer left cannot be replayed."""
