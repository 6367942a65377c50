"""Genesys Cloud Platform API emulator (OAuth, analytics details jobs and queries, entities).

Mounted at ``/genesys-cloud``: API base ``{url}/genesys-cloud`` (``/api/v2/...``), login base
``{url}/genesys-cloud/login`` (token at ``/login/oauth/token``). Settings keys: see
:class:`~.settings.GenesysSettings` (``now`` moves the data clock). Admin actions under
``POST /_sandbox/vendors/genesys_cloud/``: ``expire-tokens``; ``ground-truth`` with
``{"interval": "start/end"}`` (optional ``conversationFilters``, ``segmentFilters``,
``"records": true``) -> the conversations that started in it, in their final state
(:meth:`~.models.GenesysCloudModel.ground_truth`).
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


def _ground_truth(model: GenesysCloudModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.ground_truth(body)


def _connection(root: str) -> dict[str, Any]:
    return {
        "conn_type": "genesys_cloud",
        "login": "sandbox-client",
        "password": "sandbox-secret",
        "extra": {
            "api_base_url": f"{root}/genesys-cloud",
            "login_base_url": f"{root}/genesys-cloud/login",
        },
    }


def _model(ctx: VendorContext) -> GenesysCloudModel:
    return GenesysCloudModel(ctx)


VENDOR = VendorSpec(
    name="genesys_cloud",
    base_path="/genesys-cloud",
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=GenesysSettings,
    error_body=error_for_status,
    admin_actions={"expire-tokens": _expire_tokens, "ground-truth": _ground_truth},
    extra_urls={"login": "/genesys-cloud/login"},
    airflow_connection=_connection,
    default_conn_id="genesys_cloud_default",
)

__all__ = ["VENDOR", "GenesysCloudModel", "GenesysSettings"]
