"""Connection handling for the vendors whose export operators are not built yet.

These hooks register the connection types (so the Airflow UI shows the right form
and ``airflow providers hooks`` lists them) and validate a connection's fields.
Their API calls arrive with each vendor's issue; until then ``test_connection``
says so instead of pretending.
"""

from __future__ import annotations

from typing import Any

from contact_center_provider.hooks.base import ClientConfig, VendorHook, connection_extras


class PendingVendorHook(VendorHook):
    """A vendor hook whose export calls are not implemented yet."""

    #: connection fields that must be set, as (where, name): where is "login", "password" or "extra".
    required: tuple[tuple[str, str], ...] = ()
    default_base_url: str = ""

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id or self.default_conn_name, **kwargs)

    def validate(self, conn: Any, extras: dict[str, Any]) -> None:
        missing = [
            name
            for where, name in self.required
            if not (extras.get(name) if where == "extra" else getattr(conn, where, None))
        ]
        if missing:
            raise ValueError(f"Connection {conn.conn_id!r} ({self.hook_name}): missing {', '.join(missing)}")

    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        self.validate(conn, extras)
        return ClientConfig(base_url=(extras.get("api_base_url") or self.default_base_url).rstrip("/"))

    def check_connection(self) -> str:
        conn = self.get_connection(self.conn_id)
        self.validate(conn, connection_extras(conn))
        raise ValueError(f"{self.hook_name}: export calls are not implemented yet in this provider version")
