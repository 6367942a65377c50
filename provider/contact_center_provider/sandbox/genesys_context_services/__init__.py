"""Genesys Context Services (GMS) emulator: export services, states and tasks to files by date.

Mounted at ``/gms`` (the GMS base URL is ``{url}/gms``):

* ``POST /genesys/1/cs/maintenance/services/files`` (and the document's ``.../file`` typo)
  writes real files into the export folder and answers the JSON array of their server paths;
* ``GET /genesys/1/cs/maintenance/services/stream`` answers matching service ids (the
  hook's connection test).

The export folder is the ``export_dir`` setting, else ``$CC_SANDBOX_GMS_EXPORT_DIR``, else
``<tmp>/cc-sandbox-gms/<host>-<port>`` of the address the client used; the connection
:data:`VENDOR` builds points ``files_base_url`` at that same default. Settings:
:class:`~.settings.GmsSettings`. Admin action: ``POST /_sandbox/vendors/genesys_context_services/finish-writes``
completes files written partially (``partial_write="hold"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..vendors import VendorContext, VendorSpec
from .data import ATTACHED_DATA_KEYS
from .errors import error_for_status
from .files import CSV_COLUMNS, EXPORT_DIR_ENV, default_export_dir
from .models import GmsModel
from .routes import setup_routes
from .settings import GmsSettings

BASE_PATH = "/gms"
#: The server-side directory the sandbox connection names in ``file_prefix`` (any works).
SERVER_EXPORT_DIR = "/var/gms/export"


def _connection(root: str) -> dict[str, Any]:
    folder = default_export_dir(root)
    # A real GMS export directory exists before the first export; so does the sandbox's, so a
    # connection test (the UI's Test button) finds it readable.
    os.makedirs(folder, exist_ok=True)
    return {
        "conn_type": "genesys_context_services",
        "host": f"{root}{BASE_PATH}",
        "login": "sandbox-user",
        "password": "sandbox-password",
        "extra": {
            "files_base_url": Path(folder).as_uri(),
            "server_export_dir": SERVER_EXPORT_DIR,
        },
    }


def _model(ctx: VendorContext) -> GmsModel:
    return GmsModel(ctx)


def _finish_writes(model: GmsModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.finish_writes()


VENDOR = VendorSpec(
    name="genesys_context_services",
    base_path=BASE_PATH,
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=GmsSettings,
    error_body=error_for_status,
    admin_actions={"finish-writes": _finish_writes},
    airflow_connection=_connection,
    default_conn_id="genesys_context_services_default",
)

__all__ = [
    "ATTACHED_DATA_KEYS",
    "CSV_COLUMNS",
    "EXPORT_DIR_ENV",
    "VENDOR",
    "GmsModel",
    "GmsSettings",
    "default_export_dir",
]
