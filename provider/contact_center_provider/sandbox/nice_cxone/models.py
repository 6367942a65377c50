"""In-memory NICE CXone: tokens, Data Extraction jobs, result objects and their URLs (no HTTP).

Every public method takes parsed Python values and returns JSON-ready values or raises
:class:`~.errors.NiceApiError`; ``routes.py`` only moves them on and off the wire.

Job states: ``RUNNING -> <outcome>`` (``settings.job_outcome``) after N polls or N seconds;
a SUCCEEDED job's file is kept ``result_retention_seconds`` (24 h), after which the job is
EXPIRED. Each status answer of a SUCCEEDED job carries a freshly signed result URL that is
accessible for ``url_ttl_seconds`` (30 s).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from ..vendors import VendorContext
from .auth import Tenant, Token, TokenStore
from .data import known, render_csv
from .errors import NiceApiError
from .settings import NiceSettings

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
RESULTS_BUCKET = "results-bucket"


@dataclass
class Job:
    """One Data Extraction job."""

    id: str
    tenant: Tenant
    entity: str
    version: str
    start: date
    end: date
    submitted_at: float
    polls_to_complete: int
    seconds_to_complete: float | None
    outcome: str
    error_message: str
    sync: bool = False
    state: str = "RUNNING"
    polls: int = 0
    completed_at: float | None = None
    object_key: str | None = None
    urls_issued: int = 0
    downloads: int = 0

    def advance(self, now: float, retention: float, *, poll: bool) -> str:
        if poll:
            self.polls += 1
        if self.state == "RUNNING":
            if self.seconds_to_complete is not None:
                done = now - self.submitted_at >= self.seconds_to_complete
            else:
                done = self.polls > self.polls_to_complete
            if done:
                self.state = self.outcome
                self.completed_at = now
        if (
            self.state == "SUCCEEDED"
            and self.completed_at is not None
            and now - self.completed_at >= retention
        ):
            self.state = "EXPIRED"
        return self.state

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass
class SignedUrl:
    """A pre-signed result URL the sandbox issued."""

    key: str
    expires_at: float
    expires_seconds: int


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(value: Any, name: str) -> date:
    """``string($date)``: ``YYYY-MM-DD`` and nothing else (400 otherwise)."""
    if not isinstance(value, str):
        raise NiceApiError(400, f"{name} is required (string, YYYY-MM-DD).")
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise NiceApiError(400, f"{name} {value!r} is not a valid date (YYYY-MM-DD).")


class NiceCxoneModel:
    """State of one emulated CXone platform (any number of tenants)."""

    def __init__(self, ctx: VendorContext) -> None:
        self._ctx = ctx
        self.clock = time.monotonic
        self.wall = time.time
        self.tokens = TokenStore(lambda: self.settings, lambda: self.clock(), lambda: self.wall())
        self.jobs: dict[str, Job] = {}
        self.objects: dict[str, bytes] = {}
        self.urls: dict[str, SignedUrl] = {}
        self.by_range: Counter[str] = Counter()
        self._ids = random.Random(f"nice-cxone-ids:{ctx.seed}")
        self._url_key = hashlib.sha256(f"nice-cxone-url:{ctx.seed}".encode()).digest()
        self._expired_urls_left = 0
        self._expired_urls_for: NiceSettings | None = None

    @property
    def settings(self) -> NiceSettings:
        settings: NiceSettings = self._ctx.settings
        return settings

    # -- auth -------------------------------------------------------------------------------

    def access_key_token(self, access_key_id: Any, secret: Any, issuer: str) -> dict[str, Any]:
        """Legacy ``POST /authentication/v1/token/access-key``."""
        tenant = self.tokens.check_access_key(access_key_id, secret)
        token, _ = self.tokens.issue(tenant, access_key_id, issuer)
        return {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": self.settings.token_ttl_seconds,
            "refresh_token": uuid.uuid4().hex,
        }

    def password_grant(
        self, client: tuple[Any, Any], username: Any, password: Any, issuer: str
    ) -> dict[str, Any]:
        """OAuth 2 ``POST /auth/token`` with ``grant_type=password``."""
        self.tokens.check_client(*client)
        tenant = self.tokens.check_access_key(username, password)
        token, id_token = self.tokens.issue(tenant, username, issuer)
        return {
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": self.settings.token_ttl_seconds,
            "refresh_token": uuid.uuid4().hex,
            "id_token": id_token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }

    def cxone_configuration(self, tenant_id: str | None, root: str) -> dict[str, Any]:
        """``GET /.well-known/cxone-configuration?tenantId=``: where the tenant's APIs live."""
        if not tenant_id:
            raise NiceApiError(400, "tenantId is required.")
        if tenant_id not in self.tokens.tenants:
            raise NiceApiError(404, f"Tenant {tenant_id} was not found.")
        return {
            "private": False,
            "area": "na1",
            "cluster": "B32",
            "domain": "niceincontact.com",
            "acdDomain": "nice-incontact.com",
            "uhDomain": "nice-incontact.com",
            "ui_endpoint": f"{root}/ui",
            "auth_endpoint": root,
            "api_endpoint": root,
            "tenantId": tenant_id,
        }

    def authenticate(self, header: str | None) -> Token:
        return self.tokens.authenticate(header)

    # -- jobs -------------------------------------------------------------------------------

    def _validate(self, tenant: Tenant, body: Any) -> tuple[str, str, date, date]:
        if not isinstance(body, dict):
            raise NiceApiError(400, "The request body must be an exportRequest object.")
        entity, version = body.get("entityName"), body.get("version")
        if not isinstance(entity, str) or not entity:
            raise NiceApiError(400, "entityName is required.")
        if not isinstance(version, str) or not version:
            raise NiceApiError(400, "version is required (a string).")
        start = _parse_date(body.get("startDate"), "startDate")
        end = _parse_date(body.get("endDate"), "endDate")
        settings = self.settings
        if end < start or (end == start and not settings.end_date_inclusive):
            raise NiceApiError(400, f"endDate {end} must be after startDate {start}.")
        span = (end - start).days + (1 if settings.end_date_inclusive else 0)
        if settings.max_range_days is not None and span > settings.max_range_days:
            raise NiceApiError(
                400, f"The date range may not exceed {settings.max_range_days} days (got {span})."
            )
        if not known(entity, version):
            raise NiceApiError(404, f"Not Found. Missing entity or invalid version: {entity} v{version}.")
        if entity in settings.forbidden_entities:
            raise NiceApiError(403, f"Forbidden. User does not have permission to extract {entity}.")
        return entity, version, start, end

    def _new_job(self, tenant: Tenant, body: Any, *, sync: bool) -> Job:
        entity, version, start, end = self._validate(tenant, body)
        settings = self.settings
        job = Job(
            id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            tenant=tenant,
            entity=entity,
            version=version,
            start=start,
            end=end,
            submitted_at=self.clock(),
            polls_to_complete=0 if sync else settings.job_polls_to_complete,
            seconds_to_complete=None if sync else settings.job_seconds_to_complete,
            outcome="SUCCEEDED" if sync else settings.job_outcome,
            error_message=settings.job_error_message,
            sync=sync,
        )
        self.jobs[job.id] = job
        self.by_range[f"{entity}/{version}/{start}/{end}"] += 1
        return job

    def submit(self, token: Token, body: Any) -> str:
        """``POST /jobs`` -> the job id (sent as a bare JSON string)."""
        return self._new_job(token.tenant, body, sync=False).id

    def _job(self, token: Token, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.tenant.id != token.tenant.id:
            raise NiceApiError(404, f"Job {job_id} was not found.")
        return job

    def _advance(self, job: Job, *, poll: bool) -> str:
        state = job.advance(self.clock(), self.settings.result_retention_seconds, poll=poll)
        if state == "SUCCEEDED" and job.object_key is None:
            self._store_result(job)
        if state == "EXPIRED" and job.object_key is not None:
            self.objects.pop(job.object_key, None)
        return state

    def job_status(self, token: Token, job_id: str, root: str) -> dict[str, Any]:
        """``GET /jobs/{jobId}``: the ``jobResponse`` with a fresh URL once SUCCEEDED."""
        job = self._job(token, job_id)
        state = self._advance(job, poll=True)
        status: dict[str, Any] = {"id": job.id, "status": state}
        if state == "SUCCEEDED":
            status["result"] = {"url": self._sign(job, root)}
        elif state == "FAILED":
            status["result"] = {"errorMessage": job.error_message}
        return {"jobStatus": status}

    def list_jobs(self, token: Token) -> dict[str, Any]:
        """``GET /jobs``: every job of the caller's tenant."""
        return {
            "jobs": [
                {"id": job.id, "status": self._advance(job, poll=False)}
                for job in self.jobs.values()
                if job.tenant.id == token.tenant.id
            ]
        }

    def sync_extract(self, token: Token, body: Any, root: str) -> dict[str, Any]:
        """Deprecated ``POST /jobs/sync``: the data is prepared at once; answers its URL."""
        job = self._new_job(token.tenant, body, sync=True)
        self._advance(job, poll=True)
        return {"url": self._sign(job, root)}

    # -- results ----------------------------------------------------------------------------

    def _store_result(self, job: Job) -> None:
        settings = self.settings
        days = (job.end - job.start).days + (1 if settings.end_date_inclusive else 0)
        job.object_key = f"data-extraction/{job.tenant.id}/{job.id}/{job.entity}-v{job.version}.csv"
        self.objects[job.object_key] = render_csv(
            self._ctx.seed,
            job.entity,
            job.version,
            [job.start + timedelta(days=i) for i in range(days)],
            per_day=settings.rows_per_day,
            tenant=job.tenant.name,
            bom=settings.csv_bom,
        )

    def _sign(self, job: Job, root: str) -> str:
        assert job.object_key is not None
        settings = self.settings
        if settings.issue_expired_urls and self._expired_urls_for is not settings:
            self._expired_urls_for = settings
            self._expired_urls_left = settings.issue_expired_urls
        now = self.clock()
        ttl = settings.url_ttl_seconds
        if self._expired_urls_left > 0:
            self._expired_urls_left -= 1
            ttl = -1.0
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        expires = max(1, math.ceil(settings.url_ttl_seconds))
        nonce = uuid.uuid4().hex
        signature = hmac.new(
            self._url_key, f"{job.object_key}|{amz_date}|{nonce}".encode(), "sha256"
        ).hexdigest()
        self.urls[signature] = SignedUrl(job.object_key, now + ttl, expires)
        job.urls_issued += 1
        query = urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": f"ASIASANDBOX{nonce[:8].upper()}/{amz_date[:8]}/us-west-2/s3/aws4_request",
                "X-Amz-Date": amz_date,
                "X-Amz-Expires": str(expires),
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Signature": signature,
            }
        )
        return f"{root}/s3/{RESULTS_BUCKET}/{quote(job.object_key)}?{query}"

    def download(self, key: str, signature: str | None) -> tuple[int, bytes | None, SignedUrl | None]:
        """Serve a pre-signed GET: ``(200, body, url)``, ``(403, None, url)`` when expired or
        not signed by us (``url`` is None then), ``(404, None, url)`` when the object is gone."""
        url = self.urls.get(signature or "")
        if url is None or url.key != key:
            return 403, None, None
        if self.clock() > url.expires_at:
            return 403, None, url
        body = self.objects.get(key)
        if body is None:
            return 404, None, url
        for job in self.jobs.values():
            if job.object_key == key:
                job.downloads += 1
        return 200, body, url

    # -- admin ------------------------------------------------------------------------------

    def job_counters(self) -> dict[str, Any]:
        """The ``jobs`` entry of ``GET /_sandbox/counters``."""
        return {
            "created": len(self.jobs),
            "by_range": dict(self.by_range),
            "items": {
                job.id: {
                    "entity": job.entity,
                    "version": job.version,
                    "startDate": job.start.isoformat(),
                    "endDate": job.end.isoformat(),
                    "days": job.days,
                    "sync": job.sync,
                    "state": self._advance(job, poll=False),
                    "polls": job.polls,
                    "urls_issued": job.urls_issued,
                    "downloads": job.downloads,
                    "tenant": job.tenant.id,
                }
                for job in self.jobs.values()
            },
        }

    def expire_tokens(self) -> dict[str, int]:
        return {"expired": self.tokens.expire_all()}

    def calls(self) -> dict[str, Any]:
        return {"spacing_seconds": self.settings.call_spacing_seconds, "tenants": self.tokens.calls_json()}
