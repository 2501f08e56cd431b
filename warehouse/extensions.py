"""DuckDB extensions from their PyPI wheels: nothing is downloaded at run time."""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

WHEELS = {
    "vss": "duckdb_extension_vss",
    "fts": "duckdb_extension_fts",
    "ducklake": "duckdb_extension_ducklake",
    # The PostgreSQL scanner, for a DuckLake catalog in PostgreSQL. duckdb-extension-postgres ships it as
    # postgres.duckdb_extension (byte-identical to duckdb-extension-postgres-scanner's postgres_scanner file);
    # DuckDB installs either under the extension's own name, postgres_scanner, and answers to both names.
    "postgres": "duckdb_extension_postgres",
    # Only for a DuckLake in object storage (pip install -e .[lake-s3]).
    "httpfs": "duckdb_extension_httpfs",
}


def extension_file(name: str) -> Path:
    """The ``.duckdb_extension`` binary shipped inside the ``duckdb-extension-<name>`` wheel."""
    try:
        package = importlib.import_module(WHEELS[name])
    except KeyError:
        raise ValueError(f"unknown extension {name!r}; known: {', '.join(WHEELS)}") from None
    except ImportError as exc:
        raise RuntimeError(f"DuckDB extension {name!r}: install duckdb-extension-{name} ({exc})") from exc
    root = Path(package.__file__).parent
    version = duckdb.__version__
    candidates = sorted(root.rglob(f"v{version}/{name}.duckdb_extension")) or sorted(
        root.rglob(f"{name}.duckdb_extension")
    )
    if not candidates:
        raise RuntimeError(f"DuckDB extension {name!r}: no {name}.duckdb_extension inside {root}")
    return candidates[0]


def load_extensions(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """``INSTALL`` each extension from its wheel's file (unless this very file is installed already: copying
    one takes about 0.2 s, and a DuckLake connection is opened per unit of work), then ``LOAD`` it."""
    for name in names:
        path = extension_file(name)
        installed = {
            source
            for (source,) in con.execute(
                "SELECT installed_from FROM duckdb_extensions() WHERE installed AND install_mode = 'CUSTOM_PATH'"
            ).fetchall()
        }
        if str(path) not in installed:
            con.execute(f"INSTALL '{path}'")
        con.execute(f"LOAD {name}")
