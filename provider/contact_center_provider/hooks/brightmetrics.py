"""Brightmetrics connection (type ``brightmetrics``). Export operations arrive with the vendor's own issue."""

from __future__ import annotations

from typing import ClassVar

from contact_center_provider.hooks._pending import PendingVendorHook


class BrightmetricsHook(PendingVendorHook):
    """Connection to Brightmetrics; see the connection form for its fields."""

    conn_name_attr = "brightmetrics_conn_id"
    default_conn_name = "brightmetrics_default"
    conn_type = "brightmetrics"
    hook_name = "Brightmetrics"
    vendor: ClassVar[str] = "brightmetrics"
    required = ()
    default_base_url = "https://webapp.brightmetrics.com/OData.ashx"
