"""Genesys Cloud Platform API emulator (OAuth, analytics details jobs and queries, entities).

Mounted at ``/genesys-cloud``: API base ``{url}/genesys-cloud`` (``/api/v2/...``), login base
``{url}/genesys-cloud/login`` (token at ``/login/oauth/token``). Settings keys: see
:class:`~.settings.GenesysSettings`. Admin action: ``POST /_sandbox/vendors/genesys_cloud/expire-tokens``.
"""

from __future__ import annotations

from typing import Any

from ..vendors import VendorContext, VendorSpec
from .errors import error_for_status
from .models import GenesysCloudModel
from .routes import setup_routes
from .settings import GenesysSettings


def _expire_tokens(model: GenesysCloudModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.expire_tokens()


def _model(ctx: VendorContext) -> GenesysCloudModel:
    return GenesysCloudModel(ctx)


VENDOR = VendorSpec(
    name="genesys_cloud",
    base_path="/genesys-cloud",
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=GenesysSettings,
    error_body=error_for_status,
    admin_actions={"expire-tokens": _expire_tokens},
    extra_urls={"login": "/genesys-cloud/login"},
)

__all__ = ["VENDOR", "GenesysCloudModel", "GenesysSettings"]
