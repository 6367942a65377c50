"""NICE CXone emulator: both token generations, API discovery, Data Extraction jobs, result URLs.

Mounted at ``/nice-cxone``, which stands in for every CXone host: the access-key token at
``/authentication/v1/token/access-key``, OpenID discovery at ``/.well-known/openid-configuration``
(password grant at ``/auth/token``), API discovery at ``/.well-known/cxone-configuration``,
Data Extraction under ``/data-extraction/v1`` and the pre-signed result objects under ``/s3/``.
Settings keys: see :class:`~.settings.NiceSettings`. Admin actions
(``POST /_sandbox/vendors/nice_cxone/<action>``): ``expire-tokens``; ``calls`` (every tenant's
call log, throttled calls and the shortest gap between two calls).
"""

from __future__ import annotations

from typing import Any

from ..vendors import VendorContext, VendorSpec
from .auth import DEFAULT_ACCESS_KEY_ID
from .errors import error_for_status
from .models import NiceCxoneModel
from .routes import BASE_PATH, setup_routes
from .settings import NiceSettings

#: The ready-made connection's secrets (sandbox only).
ACCESS_KEY_SECRET = "sandbox-access-secret"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-client-secret"


def _expire_tokens(model: NiceCxoneModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.expire_tokens()


def _calls(model: NiceCxoneModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.calls()


def _connection(root: str) -> dict[str, Any]:
    return {
        "conn_type": "nice_cxone",
        "login": DEFAULT_ACCESS_KEY_ID,
        "password": ACCESS_KEY_SECRET,
        "extra": {
            "api_base_url": f"{root}{BASE_PATH}",
            "auth_base_url": f"{root}{BASE_PATH}",
            # The sandbox spaces calls 2 s apart by default (NICE: 30 s); so does this connection.
            "call_spacing_seconds": 2.0,
            "call_spacing_margin_seconds": 0.5,
        },
    }


def _model(ctx: VendorContext) -> NiceCxoneModel:
    return NiceCxoneModel(ctx)


VENDOR = VendorSpec(
    name="nice_cxone",
    base_path=BASE_PATH,
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=NiceSettings,
    error_body=error_for_status,
    admin_actions={"expire-tokens": _expire_tokens, "calls": _calls},
    airflow_connection=_connection,
    default_conn_id="nice_cxone_default",
)

__all__ = ["VENDOR", "NiceCxoneModel", "NiceSettings"]
