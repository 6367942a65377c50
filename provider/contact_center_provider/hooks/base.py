"""What every vendor hook shares: connection lookup (sync and async) and the HTTP clients.

A vendor hook only says how its connection becomes a base URL, an auth strategy and
default headers (:meth:`VendorHook.client_config`); the clients, retries, backoff and
error types come from :mod:`contact_center_provider.http`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow.sdk import BaseHook

from contact_center_provider.http import AsyncHttpClient, HttpClient, RetryPolicy
from contact_center_provider.http.auth import AuthStrategy, shared_auth
from contact_center_provider.http.errors import ErrorParser, VendorAPIError, default_error_parser
from contact_center_provider.http.limits import RequestGate
from contact_center_provider.jobs import JobRef, job_ref


@dataclass
class ClientConfig:
    """How to reach a vendor, derived from an Airflow connection."""

    base_url: str
    auth: AuthStrategy | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_parser: ErrorParser = default_error_parser
    #: Shared request limit passed before every attempt (see contact_center_provider.http.limits).
    gate: RequestGate | None = None


def connection_extras(conn: Any) -> dict[str, Any]:
    """Return the connection's extra as a dict without touching ``extra_dejson``.

    ``extra_dejson`` is a sync property that may reach the secrets masker; the raw
    ``extra`` string is already in hand for both sync and async lookups.
    """
    raw = conn.extra
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"Connection {conn.conn_id!r}: extra is not valid JSON") from exc
    return dict(data) if isinstance(data, Mapping) else {}


class VendorHook(BaseHook):
    """Base class of the vendor hooks.

    :param conn_id: the Airflow connection id.
    :param retry_policy: retry/backoff policy for every request (defaults to the
        hook's ``default_retry_policy``).
    :param timeout: per-request timeout in seconds.
    """

    vendor: ClassVar[str]
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    hook_name: ClassVar[str]
    default_retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    #: Share the OAuth token with this process's other clients of the same credentials
    #: (:func:`~contact_center_provider.http.auth.shared_auth`); the poll trigger turns it on.
    share_auth: bool = False

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        # Connection.get_hook() (and the UI's Test button) passes the id as {conn_name_attr: id}.
        named = kwargs.pop(self.conn_name_attr, None) if hasattr(self, "conn_name_attr") else None
        super().__init__(**kwargs)
        resolved = conn_id or named or getattr(self, "default_conn_name", None)
        if not resolved:
            raise ValueError(f"{type(self).__name__} needs a connection id")
        self.conn_id: str = resolved
        if isinstance(retry_policy, Mapping):
            # From trigger kwargs, which hold only JSON.
            retry_policy = RetryPolicy.from_dict(retry_policy)
        self.retry_policy = retry_policy or self.default_retry_policy
        self.timeout = timeout
        self._client: HttpClient | None = None
        self._aclient: AsyncHttpClient | None = None

    # -- what a vendor defines ---------------------------------------------------------
    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        """Turn the connection into a base URL and an auth strategy."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def _make_client(self, cls: type[Any], conn: Any) -> Any:
        config = self.client_config(conn, connection_extras(conn))
        return cls(
            config.base_url,
            vendor=self.vendor,
            auth=shared_auth(config.auth) if self.share_auth else config.auth,
            policy=self.retry_policy,
            timeout=self.timeout,
            headers=config.headers,
            error_parser=config.error_parser,
            gate=config.gate,
        )

    @property
    def client(self) -> HttpClient:
        """The sync client (workers). Built on first use from the connection."""
        if self._client is None:
            self._client = self._make_client(HttpClient, self.get_connection(self.conn_id))
        return self._client

    async def aclient(self) -> AsyncHttpClient:
        """The async client (triggers), built from an async connection lookup."""
        if self._aclient is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn = await get_async_connection(self.conn_id)
            self._aclient = self._make_client(AsyncHttpClient, conn)
        return self._aclient

    async def aclose(self) -> None:
        """Close the async client's session (call at the end of a trigger run)."""
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials with one cheap authenticated call (used by the UI's Test button)."""
        try:
            return True, self.check_connection()
        except (VendorAPIError, ValueError) as exc:
            return False, str(exc)

    def check_connection(self) -> str:
        """Make the vendor's cheapest authenticated call; return a short description."""
        raise NotImplementedError

    # -- defaults of the export-job contract (contact_center_provider.jobs.ExportJobHook) --
    def find_job(self, kind: str, start: Any, end: Any, params: Mapping[str, Any]) -> Any:
        """Find an already submitted job for the interval; ``None``: this vendor cannot list jobs."""
        return None

    def attach_job(self, kind: str, job_id: str) -> JobRef:
        """The reference of a job submitted elsewhere, from its id (an operator's ``job_id=``).

        Override when a bare id is not enough to find the job again (say so clearly if the
        vendor cannot attach at all).
        """
        return job_ref(self.vendor, kind, job_id)
