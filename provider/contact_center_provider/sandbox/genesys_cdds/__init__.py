"""Genesys Multicloud CX Cloud Data Download Service (CDDS) emulator.

Mounted at ``/genesys-cdds`` (standing for ``https://gapi-<region>.genesyscloud.com``):
password-grant token, export history and file downloads of two scheduled Contact History
jobs (Interaction, Contact) whose artifacts are real S/MIME envelopes (AES or 3DES) of
real Info-ZIP-style split zips, encrypted to a derived test certificate
(:mod:`.keys`) whose private key the sandbox connection carries. Settings:
:class:`~.settings.CddsSettings`.
"""

from __future__ import annotations

from typing import Any

from ..vendors import VendorContext, VendorSpec
from .errors import error_for_status
from .keys import derived_key_pair
from .models import TENANT_KEY, CddsModel
from .routes import setup_routes
from .settings import CddsSettings

BASE_PATH = "/genesys-cdds"


def connection(root: str) -> dict[str, Any]:
    """The Airflow connection pointing at this sandbox (key pair included)."""
    defaults = CddsSettings()
    pair = derived_key_pair(TENANT_KEY)
    return {
        "conn_type": "genesys_cdds",
        "login": defaults.username,
        "password": defaults.password,
        "extra": {
            "api_key": defaults.api_key,
            "client_id": defaults.client_id,
            "client_secret": defaults.client_secret,
            "api_base_url": f"{root}{BASE_PATH}",
            "private_key": pair.key_pem,
            "certificate": pair.certificate_pem,
        },
    }


def _model(ctx: VendorContext) -> CddsModel:
    return CddsModel(ctx)


VENDOR = VendorSpec(
    name="genesys_cdds",
    base_path=BASE_PATH,
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=CddsSettings,
    error_body=error_for_status,
    airflow_connection=connection,
    default_conn_id="genesys_cdds_default",
)

__all__ = ["VENDOR", "CddsModel", "CddsSettings", "connection"]
