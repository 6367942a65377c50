"""Brightmetrics OData API emulator (service document, ``$metadata``, report data, async exports).

Mounted at ``/brightmetrics``: OData root ``{url}/brightmetrics/OData.ashx``. Credentials:
see :mod:`.accounts` (``user@example.com`` / ``password``, API key
``4df21f67c293413fa988d8f1535cd12f``). Settings: :class:`~.settings.BrightmetricsSettings`.
Admin actions: ``POST /_sandbox/vendors/brightmetrics/spend`` ``{"company": "acme", "requests": 148}``
(count requests made elsewhere), ``.../reset-budget`` ``{"company"?}`` (the My Account button) and
``.../advance`` ``{"seconds": 1800}`` (move the sandbox clock forward).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..vendors import VendorContext, VendorSpec
from .accounts import USERS, password_hash
from .errors import error_for_status
from .models import BrightmetricsModel
from .routes import setup_routes
from .settings import BrightmetricsSettings


def _spend(model: BrightmetricsModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.spend(body)


def _advance(model: BrightmetricsModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.advance(body)


def _reset_budget(model: BrightmetricsModel, body: dict[str, Any]) -> dict[str, Any]:
    return model.reset_budget(body)


def _connection(root: str) -> dict[str, Any]:
    # The stored password is the base64 SHA-256 hash, as the document recommends. The account
    # names the sandbox instance too: a new sandbox is a new vendor with a fresh budget, and so
    # is the request budget the provider counts for it (demo runs do not add up over the day).
    user = USERS[0]
    return {
        "conn_type": "brightmetrics",
        "login": user.email,
        "password": password_hash(user.password),
        "extra": {
            "api_base_url": f"{root}/brightmetrics/OData.ashx",
            "account": f"{user.company}@{urlsplit(root).netloc}",
        },
    }


def _model(ctx: VendorContext) -> BrightmetricsModel:
    return BrightmetricsModel(ctx)


VENDOR = VendorSpec(
    name="brightmetrics",
    base_path="/brightmetrics",
    setup_routes=setup_routes,
    model_factory=_model,
    settings_factory=BrightmetricsSettings,
    error_body=error_for_status,
    admin_actions={"spend": _spend, "reset-budget": _reset_budget, "advance": _advance},
    airflow_connection=_connection,
    default_conn_id="brightmetrics_default",
)

__all__ = ["VENDOR", "BrightmetricsModel", "BrightmetricsSettings"]
