"""NICE CXone Data Extraction: both token generations, export jobs, spaced calls, result downloads.

Connection (type ``nice_cxone``): login = access key id, password = access key secret. Extra:

* ``client_id`` / ``client_secret`` — a registered OAuth client: switches to the current
  authentication (OpenID discovery + password grant). Without them the access-key token
  endpoint of the first generation is used. ``auth_mode`` (``access_key`` | ``oauth``) forces one.
* ``region`` — ``na1``, ``au1`` or ``eu1``: the document's API hosts. Without it (and without
  ``api_base_url``) the API host is discovered from ``/.well-known/cxone-configuration`` for the
  token's tenant.
* ``api_base_url`` / ``auth_base_url`` — explicit hosts (a proxy, the sandbox). ``auth_base_url``
  is the access-key host, or the OpenID issuer (default ``https://cxone.niceincontact.com``).
* ``tenant`` — the key of the call-spacing gate. Connections of one tenant with different
  access keys must share it; by default each access key id is its own gate.
* ``call_spacing_seconds`` (30) and ``call_spacing_margin_seconds`` (1) — NICE allows one call
  per 30 s per tenant and one caller at a time. Every call of the hook to the tenant's API —
  tokens, submits, polls, listings, URL refreshes — waits for a gate shared by every worker and
  the triggerer (:mod:`contact_center_provider.http.limits`), spacing calls by
  spacing + margin. The margin absorbs network jitter. Two calls are not spaced: the OpenID
  discovery document (global, it names no tenant) and the pre-signed result download (not the
  API, and its URL lives 30 s).
* ``limits_store`` — where the gate's state lives (default: ``CC_LIMITS_STORE`` /
  ``[contact_center] limits_store``, else a folder in the system temp directory).

NICE's throttling answer is unverified (403 or 429). Both are waited out and retried: 429 by the
HTTP core, 403 because this hook's retry policy adds it to the retried and safely-resent
statuses (a throttled submit was not processed). A 403 that persists through the retries is a
missing permission, and the error says so.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from contact_center_provider.exceptions import ExportJobFailed
from contact_center_provider.hooks.base import ClientConfig, VendorHook, connection_extras
from contact_center_provider.hooks.nice_cxone_auth import (
    AccessKeyToken,
    DiscoveredPasswordGrant,
    TenantCapture,
)
from contact_center_provider.hooks.nice_cxone_wire import (
    ACCESS_KEY_TOKEN_PATH,
    CXONE_CONFIGURATION,
    DATA_EXTRACTION_PATH,
    DEFAULT_CALL_SPACING,
    DEFAULT_CALL_SPACING_MARGIN,
    DEFAULT_MAX_DAYS_PER_REQUEST,
    DEFAULT_OIDC_BASE,
    DEFAULT_URL_REFRESHES,
    OPENID_CONFIGURATION,
    REGION_HOSTS,
    SETTLE_KIND,
    SUCCESS_STATUSES,
    VENDOR,
    api_base_from_configuration,
    export_request,
    nice_error_parser,
    object_store_error_parser,
    parse_job_id,
    parse_job_status,
    parse_jobs,
    settle_status,
    whole_days,
)
from contact_center_provider.http import AsyncHttpClient, HttpClient, RetryPolicy
from contact_center_provider.http.auth import OAuth2PasswordGrant
from contact_center_provider.http.errors import VendorAuthError, VendorNotFoundError, VendorTransportError
from contact_center_provider.http.limits import CallSpacing, limit_store
from contact_center_provider.http.retry import DEFAULT_RETRY_STATUSES, SAFE_TO_RESEND_STATUSES
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus, LandingSink, job_ref
from contact_center_provider.transforms.nice_cxone_columns import CsvRowCounter

log = logging.getLogger(__name__)

#: The version an entity is exported in when the job parameters name none.
DEFAULT_VERSIONS: dict[str, str] = {"qm-workflows": "1"}

#: Retry policy of calls to the tenant's API: NICE's (unverified) 403 throttling answer is waited
#: out like a 429, also on submits (a throttled request was not processed).
NICE_RETRY_POLICY = RetryPolicy(
    retry_statuses=DEFAULT_RETRY_STATUSES | {403},
    resend_statuses=SAFE_TO_RESEND_STATUSES | {403},
)

#: Discovery answers, per process: they are public, stable and cost a round trip each.
_TOKEN_ENDPOINTS: dict[str, str] = {}
_API_BASES: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class NiceConnection:
    """A ``nice_cxone`` connection, checked."""

    conn_id: str
    access_key_id: str
    access_key_secret: str = dataclasses.field(repr=False)
    auth_mode: Literal["access_key", "oauth"]
    client_id: str | None
    client_secret: str | None = dataclasses.field(repr=False)
    region: str | None
    api_base_url: str | None
    auth_base_url: str
    tenant_key: str
    call_spacing: float
    call_spacing_margin: float
    limits_store: str | None

    @property
    def oidc_base(self) -> str:
        """Where the OpenID and CXone discovery documents live."""
        return self.auth_base_url if self.auth_mode == "oauth" else DEFAULT_OIDC_BASE

    @classmethod
    def parse(cls, conn: Any, extras: Mapping[str, Any]) -> NiceConnection:
        """:raises ValueError: naming the connection and the field that is missing or wrong."""
        name = conn.conn_id
        if not conn.login or not conn.password:
            raise ValueError(
                f"Connection {name!r} (NICE CXone): set the access key id (login) and its secret (password)."
            )
        client_id, client_secret = extras.get("client_id") or None, extras.get("client_secret") or None
        mode: Literal["access_key", "oauth"]
        requested = extras.get("auth_mode") or ("oauth" if client_id else "access_key")
        if requested == "oauth":
            mode = "oauth"
        elif requested == "access_key":
            mode = "access_key"
        else:
            raise ValueError(
                f"Connection {name!r}: auth_mode must be 'access_key' or 'oauth', got {requested!r}"
            )
        if mode == "oauth" and not (client_id and client_secret):
            raise ValueError(
                f"Connection {name!r}: the OAuth password grant needs the registered client_id and client_secret."
            )
        region = (extras.get("region") or "").strip().lower() or None
        if region is not None and region not in REGION_HOSTS:
            raise ValueError(
                f"Connection {name!r}: unknown region {region!r}; expected one of {', '.join(REGION_HOSTS)} "
                "(or set api_base_url, or leave both out to discover the API host)."
            )
        default_auth = DEFAULT_OIDC_BASE if mode == "oauth" else REGION_HOSTS[region or "na1"]
        try:
            spacing = float(extras.get("call_spacing_seconds", DEFAULT_CALL_SPACING))
            margin = float(extras.get("call_spacing_margin_seconds", DEFAULT_CALL_SPACING_MARGIN))
        except (TypeError, ValueError):
            raise ValueError(
                f"Connection {name!r}: call_spacing_seconds and its margin must be numbers"
            ) from None
        if spacing <= 0 or margin < 0:
            raise ValueError(f"Connection {name!r}: call_spacing_seconds must be > 0 and its margin >= 0")
        api = extras.get("api_base_url")
        return cls(
            conn_id=name,
            access_key_id=str(conn.login),
            access_key_secret=str(conn.password),
            auth_mode=mode,
            client_id=client_id,
            client_secret=client_secret,
            region=region,
            api_base_url=str(api).rstrip("/") if api else (REGION_HOSTS[region] if region else None),
            auth_base_url=str(extras.get("auth_base_url") or default_auth).rstrip("/"),
            tenant_key=str(extras.get("tenant") or conn.login),
            call_spacing=spacing,
            call_spacing_margin=margin,
            limits_store=extras.get("limits_store") or None,
        )


class NiceCxoneHook(VendorHook):
    """Talk to NICE CXone's Data Extraction API, one spaced call at a time per tenant.

    :param nice_cxone_conn_id: connection of type ``nice_cxone`` (fields in the module docstring).
    :param find_orphans: list the tenant's jobs before each submit (one more spaced call) so that
        a submit whose answer was lost can find the job it created instead of failing.
    :param url_refreshes: how often an expired result URL (403 from the object store) or an
        interrupted download is retried with a fresh URL.
    :param limits_store: where the call-spacing state lives (wins over the connection's
        ``limits_store``; default: ``CC_LIMITS_STORE`` / ``[contact_center] limits_store``).
    :param retry_policy: HTTP retry policy (default :data:`NICE_RETRY_POLICY`).
    """

    conn_name_attr = "nice_cxone_conn_id"
    default_conn_name = "nice_cxone_default"
    conn_type = "nice_cxone"
    hook_name = "NICE CXone"
    vendor: ClassVar[str] = VENDOR
    default_retry_policy: ClassVar[RetryPolicy] = NICE_RETRY_POLICY

    def __init__(
        self,
        nice_cxone_conn_id: str = default_conn_name,
        *,
        find_orphans: bool = True,
        url_refreshes: int = DEFAULT_URL_REFRESHES,
        limits_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(nice_cxone_conn_id, **kwargs)
        self.find_orphans = find_orphans
        self.limits_store = limits_store
        self.url_refreshes = url_refreshes
        self.tenant = TenantCapture()
        self._conn: NiceConnection | None = None
        self._plain: HttpClient | None = None
        self._aplain: AsyncHttpClient | None = None
        self._snapshots: dict[tuple[str, str, str], frozenset[str]] = {}

    # -- connection -> clients ----------------------------------------------------------------
    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        nice = self._conn = NiceConnection.parse(conn, extras)
        auth: AccessKeyToken | DiscoveredPasswordGrant
        if nice.auth_mode == "access_key":
            auth = AccessKeyToken(
                f"{nice.auth_base_url}{ACCESS_KEY_TOKEN_PATH}",
                nice.access_key_id,
                nice.access_key_secret,
                vendor=self.vendor,
                token_parser=self.tenant,
            )
        else:
            auth = DiscoveredPasswordGrant(
                self._discover_token_endpoint,
                self._adiscover_token_endpoint,
                self._password_grant,
                (nice.access_key_secret, nice.client_secret or ""),
            )
        gate = CallSpacing(
            limit_store(self.limits_store or nice.limits_store),
            f"{self.vendor}:{nice.tenant_key}",
            nice.call_spacing + nice.call_spacing_margin,
        )
        return ClientConfig(
            base_url=nice.api_base_url or nice.auth_base_url,
            auth=auth,
            error_parser=nice_error_parser,
            gate=gate,
        )

    def _password_grant(self, token_url: str) -> OAuth2PasswordGrant:
        nice = self._nice()
        return OAuth2PasswordGrant(
            token_url,
            nice.access_key_id,
            nice.access_key_secret,
            client_id=nice.client_id,
            client_secret=nice.client_secret,
            vendor=self.vendor,
            credentials_in="basic",
            token_parser=self.tenant,
        )

    def _nice(self) -> NiceConnection:
        if self._conn is None:
            conn = self.get_connection(self.conn_id)
            self._conn = NiceConnection.parse(conn, connection_extras(conn))
        return self._conn

    def _plain_args(self) -> dict[str, Any]:
        # Discovery and downloads: no credentials, no spacing, and a 403 is an answer, not a wait.
        policy = dataclasses.replace(
            self.retry_policy,
            retry_statuses=self.retry_policy.retry_statuses - {403},
            resend_statuses=self.retry_policy.resend_statuses - {403},
        )
        return {
            "vendor": self.vendor,
            "policy": policy,
            "timeout": self.timeout,
            "auth": None,
            "error_parser": object_store_error_parser,
        }

    @property
    def plain_client(self) -> HttpClient:
        """The client for discovery documents and pre-signed downloads (no auth, no gate)."""
        if self._plain is None:
            self._plain = HttpClient(self._nice().auth_base_url, **self._plain_args())
        return self._plain

    async def aplain_client(self) -> AsyncHttpClient:
        if self._aplain is None:
            await self.aclient()  # resolves the connection without blocking the loop
            self._aplain = AsyncHttpClient(self._nice().auth_base_url, **self._plain_args())
        return self._aplain

    def close(self) -> None:
        super().close()
        if self._plain is not None:
            self._plain.close()
            self._plain = None

    async def aclose(self) -> None:
        await super().aclose()
        if self._aplain is not None:
            await self._aplain.aclose()
            self._aplain = None

    # -- discovery ------------------------------------------------------------------------------
    def _openid_url(self) -> str:
        return f"{self._nice().oidc_base}{OPENID_CONFIGURATION}"

    @staticmethod
    def _token_endpoint(url: str, document: Any) -> str:
        endpoint = document.get("token_endpoint") if isinstance(document, Mapping) else None
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError(f"NICE CXone OpenID configuration at {url} names no token_endpoint")
        return endpoint

    def _discover_token_endpoint(self) -> str:
        url = self._openid_url()
        if url not in _TOKEN_ENDPOINTS:
            _TOKEN_ENDPOINTS[url] = self._token_endpoint(url, self.plain_client.get_json(url))
        return _TOKEN_ENDPOINTS[url]

    async def _adiscover_token_endpoint(self) -> str:
        url = self._openid_url()
        if url not in _TOKEN_ENDPOINTS:
            client = await self.aplain_client()
            _TOKEN_ENDPOINTS[url] = self._token_endpoint(url, await client.aget_json(url))
        return _TOKEN_ENDPOINTS[url]

    def _tenant_or_fail(self) -> str:
        if not self.tenant.tenant_id:
            raise ValueError(
                f"Connection {self.conn_id!r}: the NICE CXone token names no tenant, so the API host cannot "
                "be discovered; set region (na1, au1, eu1) or api_base_url."
            )
        return self.tenant.tenant_id

    def api_base(self) -> str:
        """The tenant's API host: explicit, from the region, or discovered for the token's tenant."""
        client = self.client
        nice = self._nice()
        if nice.api_base_url:
            return nice.api_base_url
        if client.auth is not None and self.tenant.tenant_id is None:
            client.auth.auth_headers(client)  # the token names the tenant
        key = (nice.oidc_base, self._tenant_or_fail())
        if key not in _API_BASES:
            # It names the tenant, so it is spaced like the tenant's other calls.
            config = client.request(
                "GET",
                f"{nice.oidc_base}{CXONE_CONFIGURATION}",
                params={"tenantId": key[1]},
                authenticate=False,
            ).json()
            _API_BASES[key] = api_base_from_configuration(config)
        return _API_BASES[key]

    async def aapi_base(self) -> str:
        client = await self.aclient()
        nice = self._nice()
        if nice.api_base_url:
            return nice.api_base_url
        if client.auth is not None and self.tenant.tenant_id is None:
            await client.auth.aauth_headers(client)
        key = (nice.oidc_base, self._tenant_or_fail())
        if key not in _API_BASES:
            response = await client.arequest(
                "GET",
                f"{nice.oidc_base}{CXONE_CONFIGURATION}",
                params={"tenantId": key[1]},
                authenticate=False,
            )
            config = response.json()
            _API_BASES[key] = api_base_from_configuration(config)
        return _API_BASES[key]

    def _url(self, base: str, path: str) -> str:
        return f"{base}{DATA_EXTRACTION_PATH}{path}"

    # -- jobs -----------------------------------------------------------------------------------
    def list_jobs(self) -> dict[str, str]:
        """Every Data Extraction job of the tenant: ``{job id: status}`` (one spaced call)."""
        response = self.client.request(
            "GET", self._url(self.api_base(), "/jobs"), expect=SUCCESS_STATUSES, authenticate=True
        )
        return parse_jobs(response.json())

    def check_connection(self) -> str:
        jobs = self.list_jobs()
        tenant = self.tenant.tenant_id or self._nice().tenant_key
        return f"Connected to NICE CXone tenant {tenant}: {len(jobs)} Data Extraction job(s) listed"

    @staticmethod
    def _request(kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> dict[str, str]:
        version = params.get("version") or DEFAULT_VERSIONS.get(kind)
        if not version:
            raise ValueError(f"NICE CXone entity {kind!r}: name its version in the job parameters")
        first, last = whole_days(start, end, widen=bool(params.get("widen_to_days")))
        max_days = int(params.get("max_days_per_request") or DEFAULT_MAX_DAYS_PER_REQUEST)
        if (last - first).days > max_days:
            raise ValueError(
                f"NICE CXone {kind}: {first} .. {last} spans {(last - first).days} days, more than "
                f"{max_days} per request; split it (the export operator does)."
            )
        return export_request(
            kind, str(version), first, last, end_date_inclusive=bool(params.get("end_date_inclusive"))
        )

    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """POST /jobs for the UTC days of ``[start, end)``; never resent once it may have arrived.

        ``params``: ``version`` (default ``"1"`` for qm-workflows), ``widen_to_days``,
        ``max_days_per_request`` (14), ``end_date_inclusive`` (False).
        """
        body = self._request(kind, start, end, params)
        base = self.api_base()
        if self.find_orphans:
            self._snapshots[self._snapshot_key(body)] = frozenset(self.list_jobs())
        response = self.client.request(
            "POST",
            self._url(base, "/jobs"),
            json=body,
            creates=True,
            expect=SUCCESS_STATUSES,
            authenticate=True,
        )
        job_id = parse_job_id(response.content)
        log.info(
            "NICE CXone accepted %s v%s job %s for %s .. %s",
            kind,
            body["version"],
            job_id,
            body["startDate"],
            body["endDate"],
        )
        return self._ref(kind, job_id, body)

    @staticmethod
    def _snapshot_key(body: Mapping[str, str]) -> tuple[str, str, str]:
        return body["entityName"], body["startDate"], body["endDate"]

    def _ref(self, kind: str, job_id: str, body: Mapping[str, str]) -> JobRef:
        return job_ref(
            self.vendor,
            kind,
            job_id,
            version=body["version"],
            start_date=body["startDate"],
            end_date=body["endDate"],
        )

    def find_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef | None:
        """The job a lost submit created: the one new job in the tenant's listing since the submit.

        The listing names no entity or dates, so a job is only attributed when this hook listed
        the jobs right before submitting (``find_orphans``) and exactly one appeared since.
        """
        body = self._request(kind, start, end, params)
        before = self._snapshots.get(self._snapshot_key(body))
        if before is None:
            log.warning(
                "NICE CXone lists jobs without their entity or dates; without a listing taken right "
                "before the submit (find_orphans), a job cannot be attributed to %s .. %s.",
                body["startDate"],
                body["endDate"],
            )
            return None
        new = sorted(set(self.list_jobs()) - before)
        if len(new) == 1:
            return self._ref(kind, new[0], body)
        if new:
            log.warning(
                "%d new NICE CXone jobs appeared since the submit (%s); none is attributed.",
                len(new),
                ", ".join(new),
            )
        return None

    def _status_path(self, job: Mapping[str, Any]) -> str:
        return f"/jobs/{quote(str(job['job_id']), safe='')}"

    def get_job_status(self, job: JobRef) -> JobStatus:
        """GET /jobs/{jobId}; a SUCCEEDED status carries the 30-second result URL.

        A :func:`~contact_center_provider.hooks.nice_cxone_wire.settle_ref` "job" is answered
        from the clock, without a call.
        """
        if job["kind"] == SETTLE_KIND:
            return settle_status(job, datetime.now(UTC))
        response = self.client.request(
            "GET",
            self._url(self.api_base(), self._status_path(job)),
            expect=SUCCESS_STATUSES,
            authenticate=True,
        )
        return parse_job_status(job["job_id"], response.json())

    async def aget_job_status(self, job: JobRef) -> JobStatus:
        if job["kind"] == SETTLE_KIND:
            return settle_status(job, datetime.now(UTC))
        client = await self.aclient()
        response = await client.arequest(
            "GET",
            self._url(await self.aapi_base(), self._status_path(job)),
            expect=SUCCESS_STATUSES,
            authenticate=True,
        )
        return parse_job_status(job["job_id"], response.json())

    def cancel_job(self, job: JobRef) -> None:
        """NICE documents no way to cancel a Data Extraction job: it runs on and expires by itself."""
        log.info("NICE CXone cannot cancel job %s (no such endpoint); it expires on its own.", job["job_id"])

    async def acancel_job(self, job: JobRef) -> None:
        self.cancel_job(job)

    # -- results --------------------------------------------------------------------------------
    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Stream the job's CSV into the raw zone.

        The URL a status carries lives 30 s and never leaves the process that fetched it, so the
        job is asked again right before downloading; a URL that expired all the same (403 from
        the object store) or a download cut short is asked for again, ``url_refreshes`` times.
        """
        refreshes = 0
        while True:
            fresh = self.get_job_status(job)
            url = fresh.result.url if fresh.result is not None else None
            if fresh.outcome is not JobOutcome.SUCCEEDED or not url:
                raise ExportJobFailed(
                    f"NICE CXone job {job['job_id']} is {fresh.vendor_state} when its result was to be "
                    "downloaded (results are kept 24 hours); export the interval again."
                )
            counter = CsvRowCounter()
            try:
                with self.plain_client.stream("GET", url, authenticate=False) as chunks:
                    uri = landing.write_stream(counter.wrap(chunks), counter.rows_so_far, extension=".csv")
            except VendorNotFoundError as exc:
                raise ExportJobFailed(
                    f"NICE CXone job {job['job_id']}: its result file is gone ({exc}); export the interval again."
                ) from None
            except (VendorAuthError, VendorTransportError) as exc:
                refreshes += 1
                if refreshes > self.url_refreshes:
                    raise ExportJobFailed(
                        f"NICE CXone job {job['job_id']}: the result download failed {refreshes} times, last "
                        f"with {exc}. The URL lives 30 s; check the workers' clock and network to the object store."
                    ) from None
                log.warning(
                    "NICE CXone job %s: result download failed (%s); asking for a fresh URL (%d of %d).",
                    job["job_id"],
                    exc,
                    refreshes,
                    self.url_refreshes,
                )
                continue
            log.info("Landed NICE CXone job %s: %d rows in %s", job["job_id"], counter.data_rows, uri)
            extra = job.get("extra", {})
            return {
                "entity": job["kind"],
                "version": extra.get("version"),
                "columns": counter.header,
                "rows": counter.data_rows,
                "url_refreshes": refreshes,
            }

    def extract_sync(
        self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any], landing: LandingSink
    ) -> dict[str, Any]:
        """The deprecated ``POST /jobs/sync``: the answer carries the URL at once. Not the default:
        a URL that expires before the download cannot be asked for again (it needs a new extraction).
        """
        body = self._request(kind, start, end, params)
        response = self.client.request(
            "POST",
            self._url(self.api_base(), "/jobs/sync"),
            json=body,
            creates=True,
            expect=SUCCESS_STATUSES,
            authenticate=True,
        )
        payload = response.json()
        url = payload.get("url") if isinstance(payload, Mapping) else None
        if not isinstance(url, str) or not url:
            raise ExportJobFailed(f"NICE CXone jobs/sync for {kind} answered without a result URL")
        counter = CsvRowCounter()
        with self.plain_client.stream("GET", url, authenticate=False) as chunks:
            landing.write_stream(counter.wrap(chunks), counter.rows_so_far, extension=".csv")
        return {
            "entity": kind,
            "version": body["version"],
            "columns": counter.header,
            "rows": counter.data_rows,
            "mode": "sync",
        }
