"""Genesys Context Services connection (type ``genesys_context_services``). Export operations arrive with the vendor's own issue."""

from __future__ import annotations

from typing import ClassVar

from contact_center_provider.hooks._pending import PendingVendorHook


class GenesysContextServicesHook(PendingVendorHook):
    """Connection to Genesys Context Services; see the connection form for its fields."""

    conn_name_attr = "genesys_context_services_conn_id"
    default_conn_name = "genesys_context_services_default"
    conn_type = "genesys_context_services"
    hook_name = "Genesys Context Services"
    vendor: ClassVar[str] = "genesys_context_services"
    required = ()
