"""NICE CXone connection (type ``nice_cxone``). Export operations arrive with the vendor's own issue."""

from __future__ import annotations

from typing import ClassVar

from contact_center_provider.hooks._pending import PendingVendorHook


class NiceCxoneHook(PendingVendorHook):
    """Connection to NICE CXone; see the connection form for its fields."""

    conn_name_attr = "nice_cxone_conn_id"
    default_conn_name = "nice_cxone_default"
    conn_type = "nice_cxone"
    hook_name = "NICE CXone"
    vendor: ClassVar[str] = "nice_cxone"
    required = (
        ("login", "login"),
        ("password", "password"),
    )
    default_base_url = "https://na1.nice-incontact.com/data-extraction/v1"
