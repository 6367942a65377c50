"""Genesys CDDS connection (type ``genesys_cdds``). Export operations arrive with the vendor's own issue."""

from __future__ import annotations

from typing import ClassVar

from contact_center_provider.hooks._pending import PendingVendorHook


class GenesysCddsHook(PendingVendorHook):
    """Connection to Genesys CDDS; see the connection form for its fields."""

    conn_name_attr = "genesys_cdds_conn_id"
    default_conn_name = "genesys_cdds_default"
    conn_type = "genesys_cdds"
    hook_name = "Genesys CDDS"
    vendor: ClassVar[str] = "genesys_cdds"
    required = (
        ("login", "login"),
        ("password", "password"),
    )
