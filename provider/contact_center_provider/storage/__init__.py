"""Object storage: URIs, atomic publication, streaming table writers, manifests.

Importing this package is cheap (no smart_open, boto3 or pyarrow): names are
loaded from their submodules on first attribute access, so DAG files may import
from here at parse time.

- :mod:`.uri` -- ``split_uri``, ``join_uri``, ``is_local``, ``transport_params``,
  ``open_uri``, ``exists``, ``read_bytes``, ``list_uris``, ``delete_prefix``, ``delete_uris``.
- :mod:`.atomic` -- ``atomic_open``, ``AtomicWriter``, ``write_bytes``.
- :mod:`.writers` -- ``ParquetTableWriter``, ``CsvTableWriter``,
  ``write_table``.
- :mod:`.manifest` -- ``ManifestEntry``, ``Manifest``, ``write_manifest``, ``read_manifest``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contact_center_provider.storage.atomic import AtomicWriter, atomic_open, write_bytes
    from contact_center_provider.storage.manifest import (
        Manifest,
        ManifestEntry,
        read_manifest,
        write_manifest,
    )
    from contact_center_provider.storage.uri import (
        MissingStorageExtraError,
        clear_client_cache,
        delete_prefix,
        delete_uris,
        exists,
        is_local,
        join_uri,
        list_uris,
        local_path,
        open_uri,
        read_bytes,
        split_uri,
        transport_params,
    )
    from contact_center_provider.storage.writers import (
        CsvTableWriter,
        ParquetTableWriter,
        conform_table,
        neutralize_formula_cells,
        write_table,
    )

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "MissingStorageExtraError",
            "clear_client_cache",
            "delete_prefix",
            "delete_uris",
            "exists",
            "is_local",
            "join_uri",
            "list_uris",
            "local_path",
            "open_uri",
            "read_bytes",
            "split_uri",
            "transport_params",
        ],
        "uri",
    ),
    **dict.fromkeys(["AtomicWriter", "atomic_open", "write_bytes"], "atomic"),
    **dict.fromkeys(["Manifest", "ManifestEntry", "read_manifest", "write_manifest"], "manifest"),
    **dict.fromkeys(
        [
            "CsvTableWriter",
            "ParquetTableWriter",
            "conform_table",
            "neutralize_formula_cells",
            "write_table",
        ],
        "writers",
    ),
}

__all__ = [
    "AtomicWriter",
    "CsvTableWriter",
    "Manifest",
    "ManifestEntry",
    "MissingStorageExtraError",
    "ParquetTableWriter",
    "atomic_open",
    "clear_client_cache",
    "conform_table",
    "delete_prefix",
    "delete_uris",
    "exists",
    "is_local",
    "join_uri",
    "list_uris",
    "local_path",
    "neutralize_formula_cells",
    "open_uri",
    "read_bytes",
    "read_manifest",
    "split_uri",
    "transport_params",
    "write_bytes",
    "write_manifest",
    "write_table",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
