"""The one export-job operator every vendor subclasses: submit, resume, wait, land, cancel.

:class:`VendorExportJobOperator` drives any hook that implements
:class:`~contact_center_provider.jobs.ExportJobHook`:

1. **Interval and partition.** The run's data interval (or ``interval_start`` /
   ``interval_end``) gives the :class:`~contact_center_provider.storage.zones.Partition`
   of everything this task lands. :meth:`~VendorExportJobOperator.export_interval` may
   widen what is exported (a restatement window); :meth:`~VendorExportJobOperator.job_windows`
   may split it into several vendor jobs (NICE: at most 14 days a request).
2. **Resume or submit.** The jobs live in ``task_state_store`` (Airflow 3.3+). An
   automatic retry resumes them (a running or finished job is never submitted twice); a
   *cleared* task (its ``max_tries`` changed) exports afresh, because a user clears a run
   to pick up corrected vendor data. A submit that may have reached the vendor
   (``AmbiguousSubmissionError``) first asks the hook to find the job (``find_job``);
   if it cannot, the task fails *without retries* and says what to check. So do
   authentication and permission errors: retrying them cannot help.
3. **Wait.** Deferred to :class:`~contact_center_provider.triggers.job_poll.JobPollTrigger`
   (``deferrable=True``), or the very same poll loop in the worker.
4. **Land.** Every job's output streams through ``hook.land_result`` into a new raw-zone
   attempt (:class:`~contact_center_provider.storage.raw_zone.RawLanding`); the manifest
   is published last, and a failed re-run leaves the previous landing readable.
5. **Cancel.** ``on_kill`` (and the trigger's ``on_kill`` when deferred) cancels the job.

What a new vendor writes (a thin subclass)::

    class MyVendorExportOperator(VendorExportJobOperator):
        hook_class = MyVendorHook                 # implements jobs.ExportJobHook

        # optional overrides
        def job_windows(self, start, end): ...    # split a long interval into several jobs
        def submit_params(self, context, start, end): ...   # vendor body from parameters
        def prerequisite(self, context, start, end): ...    # a JobRef to wait on first

The raw zone lands at ``{output_base_uri}/raw/{vendor}/{dataset}/{partition}/`` and the
task returns the landing's small summary (URIs and counts, never data); the landing is
also announced as an event of the asset ``contact_center/raw/{vendor}/{dataset}`` whose
``extra`` carries the storage URI, rows, interval and job ids.

The other bases: :mod:`contact_center_provider.sensors.export_job` (job sensor),
:mod:`contact_center_provider.operators.tables` (raw landing -> tables, published together),
:mod:`contact_center_provider.storage.zones` (partitions). The Genesys Cloud operators in
:mod:`contact_center_provider.operators.genesys_cloud` are the worked example.
"""

# FRAMEWORK READY

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from contact_center_provider.exceptions import ExportAuthError, ExportBudgetExhausted, ExportSubmitAmbiguous
from contact_center_provider.http.errors import (
    AmbiguousSubmissionError,
    VendorAuthError,
    VendorNotFoundError,
)
from contact_center_provider.http.limits import RequestBudgetExhausted
from contact_center_provider.http.retry import RetryPolicy
from contact_center_provider.jobs import JobOutcome, JobRef, JobResult, JobStatus
from contact_center_provider.operators._common import (
    LineageMixin,
    default_deferrable,
    emit_asset_event,
    raise_for_event,
    resolve_interval,
    zone_asset,
)
from contact_center_provider.storage.atomic import write_bytes
from contact_center_provider.storage.raw_zone import RawLanding, for_xcom, new_attempt_id
from contact_center_provider.storage.zones import Partition, raw_prefix
from contact_center_provider.triggers.events import JobEvent
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_BACKOFF,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    PollSchedule,
)

#: The task_state_store key of the export's jobs (one task instance, one export).
STATE_KEY = "export_jobs"
#: Extra time the defer timeout allows past the trigger's own deadline (a backstop only).
DEFER_BACKSTOP = timedelta(minutes=2)


def _window_text(start: datetime, end: datetime) -> str:
    return Partition(start, end).interval


def _parse_window(text: str) -> tuple[datetime, datetime]:
    part = Partition.parse(text)
    return part.start, part.end


class VendorExportJobOperator(LineageMixin, BaseOperator):
    """Export the data interval through a vendor's export job(s) into the raw zone.

    :param output_base_uri: base URI of the zones (``s3://bucket/cc``, ``file:///data``...). Templated.
    :param kind: the vendor's kind of job (a dataset, entity or report).
    :param dataset: the raw zone's dataset name (default: ``kind``).
    :param job_params: vendor parameters of the job (filters, versions, formats...). Templated.
    :param conn_id: the vendor connection (default: the hook's ``default_conn_name``). Templated.
    :param output_conn_id: storage connection for ``output_base_uri``. Templated.
    :param interval_start: override of the data interval start (ISO-8601). Templated.
    :param interval_end: override of the data interval end (ISO-8601). Templated.
    :param export_name: names this selection when several exports share a dataset; it becomes an
        ``export=<name>`` partition level of the raw zone and every table made from it.
    :param job_id: attach to an already submitted job instead of submitting. Templated.
    :param wait_for_completion: when False, return right after submitting (pair with a job sensor).
    :param poll_interval: first wait between polls (grows to ``max_poll_interval``).
    :param max_poll_interval: longest wait between polls.
    :param poll_backoff: growth factor of the wait after each poll that saw the job running.
    :param first_poll_delay: wait before the first poll (0: look at once). A deferred wait's first
        poll comes at least ``poll_interval`` after deferring (a trigger that fired at once could
        race the scheduler, apache/airflow#71580).
    :param timeout: seconds to wait for each job (and for a prerequisite); an absolute deadline
        that also bounds the time spent deferred.
    :param deferrable: defer while waiting (default ``[operators] default_deferrable``).
    :param retry_policy: the HTTP retry policy of every request (e.g. short backoffs in tests).
    :param hook_params: further JSON-native keyword arguments for the vendor hook.
    """

    #: The vendor hook class; it implements :class:`~contact_center_provider.jobs.ExportJobHook`.
    hook_class: ClassVar[type[Any]]
    #: File extension of landed pages when the hook does not say otherwise.
    landing_extension: ClassVar[str] = ".json"

    template_fields: Sequence[str] = (
        "job_params",
        "interval_start",
        "interval_end",
        "output_base_uri",
        "output_conn_id",
        "conn_id",
        "job_id",
    )
    template_fields_renderers = {"job_params": "json"}

    def __init__(
        self,
        *,
        output_base_uri: str,
        kind: str,
        dataset: str | None = None,
        job_params: dict[str, Any] | None = None,
        conn_id: str | None = None,
        output_conn_id: str | None = None,
        interval_start: str | datetime | None = None,
        interval_end: str | datetime | None = None,
        export_name: str | None = None,
        job_id: str | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        poll_backoff: float = DEFAULT_POLL_BACKOFF,
        first_poll_delay: float = 0.0,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        deferrable: bool = default_deferrable(),
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_base_uri = output_base_uri
        self.kind = kind
        self.dataset = dataset or kind
        self.job_params = dict(job_params or {})
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.output_conn_id = output_conn_id
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.export_name = export_name
        self.job_id = job_id
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.poll_backoff = poll_backoff
        self.first_poll_delay = first_poll_delay
        self.timeout = timeout
        self.deferrable = deferrable
        policy = RetryPolicy.from_dict(retry_policy) if isinstance(retry_policy, Mapping) else retry_policy
        self.hook_params: dict[str, Any] = dict(hook_params or {})
        if policy is not None:
            self.hook_params["retry_policy"] = policy.to_dict()
        self._running: list[JobRef] = []
        #: Every landing is announced on it (see emit_asset_event); a task that only submits
        #: (wait_for_completion=False) lands nothing, so it declares no outlet.
        self.raw_asset = zone_asset("raw", self.vendor, self.dataset)
        if wait_for_completion:
            self.outlets = [*self.outlets, self.raw_asset]

    # -- what a vendor may override ------------------------------------------------------
    @property
    def vendor(self) -> str:
        return str(self.hook_class.vendor)

    def export_interval(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """What to export for the partition ``[start, end)`` (default: exactly that)."""
        return start, end

    def job_windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Split the exported interval into one window per vendor job (default: one job)."""
        return [(start, end)]

    def submit_params(self, context: Mapping[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
        """The vendor parameters of the job for ``[start, end)`` (default: ``job_params``)."""
        return dict(self.job_params)

    def prerequisite(self, context: Mapping[str, Any], start: datetime, end: datetime) -> JobRef | None:
        """A job-like reference to wait on before submitting (e.g. data availability); ``None``: none."""
        return None

    # -- shared machinery ------------------------------------------------------------------
    @cached_property
    def hook(self) -> Any:
        return self.hook_class(self.conn_id, **self.hook_params)

    def partition(self, context: Mapping[str, Any]) -> Partition:
        """The partition this task lands in (the data interval, or the overrides)."""
        start, end = resolve_interval(context, self.interval_start, self.interval_end, task_id=self.task_id)
        return Partition(start, end, self.export_name)

    def _what(self, job: Mapping[str, Any] | None = None) -> str:
        name = f"{self.hook_class.hook_name} {self.kind}"
        return f"{name} job {job.get('job_id')}" if job else name

    def _landing(self, partition: Partition, attempt: str) -> RawLanding:
        prefix = raw_prefix(self.output_base_uri, self.vendor, self.dataset, partition)
        return RawLanding(prefix, self.output_conn_id, extension=self.landing_extension, attempt=attempt)

    @staticmethod
    def _generation(context: Mapping[str, Any]) -> int:
        # Clearing a task sets max_tries = try_number + retries; an automatic retry keeps it.
        return int(getattr(context.get("ti"), "max_tries", 0) or 0)

    def _save(self, context: Mapping[str, Any], state: dict[str, Any]) -> None:
        store = context.get("task_state_store")
        if store is not None:
            store.set(STATE_KEY, state)

    def _fresh_state(self, context: Mapping[str, Any], partition: Partition) -> dict[str, Any]:
        start, end = self.export_interval(partition.start, partition.end)
        return {
            "generation": self._generation(context),
            "interval": partition.interval,
            "export_interval": _window_text(start, end),
            "attempt": new_attempt_id(),
            "jobs": [
                {"window": _window_text(s, e), "job": None, "pending": False, "done": False}
                for s, e in self.job_windows(start, end)
            ],
        }

    def _resume_state(self, context: Mapping[str, Any], partition: Partition) -> dict[str, Any]:
        fresh = self._fresh_state(context, partition)
        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "No task_state_store (Airflow < 3.3?): a retry of this task cannot resume its jobs."
            )
            return fresh
        stored = store.get(STATE_KEY)
        if not isinstance(stored, dict) or stored.get("interval") != partition.interval:
            return fresh
        if stored.get("generation") != fresh["generation"]:
            jobs = [e["job"]["job_id"] for e in stored.get("jobs", []) if e.get("job")]
            self.log.info(
                "This task was cleared: exporting afresh instead of reusing job(s) %s, so corrected "
                "vendor data is picked up.",
                jobs,
            )
            return fresh
        if [e["window"] for e in stored["jobs"]] != [e["window"] for e in fresh["jobs"]]:
            return fresh
        for index, entry in enumerate(stored["jobs"]):
            self._check_resumable(entry, self._stage_uri(stored, index))
        self._save(context, stored)
        return stored

    def _check_resumable(self, entry: dict[str, Any], stage_uri: str) -> None:
        job = entry.get("job")
        if job is None or (entry.get("done") and entry.get("staged_uri")):
            return  # nothing submitted yet, or its result is already safe in the raw zone
        try:
            status = self.hook.get_job_status(job)
        except VendorNotFoundError:
            status = None
        if status is not None and status.outcome in (JobOutcome.RUNNING, JobOutcome.SUCCEEDED):
            self.log.info("Resuming %s (%s) for %s", self._what(job), status.vendor_state, entry["window"])
            if status.outcome is JobOutcome.SUCCEEDED:
                # Finished already: land it from here. Deferring would make a trigger that fires
                # at once, and Airflow 3.3 may then fail the task on the deferring try's stale exit
                # (apache/airflow#71580, #72716).
                entry.update(done=True, staged_uri=None, vendor_state=status.vendor_state)
                body = status.result.body if status.result is not None else None
                if body is not None:
                    # The look that found it finished carried the result (Brightmetrics): keep it,
                    # do not pay for it again.
                    write_bytes(stage_uri, body, self.output_conn_id, compression="disable")
                    entry.update(staged_uri=stage_uri)
            return
        state = status.vendor_state if status else "unknown to the vendor"
        self.log.info("Stored %s is no longer usable (%s); submitting a new one.", self._what(job), state)
        entry.update(job=None, pending=False, done=False, staged_uri=None)

    def _submit(self, context: Mapping[str, Any], state: dict[str, Any], entry: dict[str, Any]) -> JobRef:
        start, end = _parse_window(entry["window"])
        params = self.submit_params(context, start, end)
        if entry.get("pending"):
            found = self.hook.find_job(self.kind, start, end, params)
            if found is not None:
                self.log.info(
                    "Found %s submitted by an earlier try for %s.", self._what(found), entry["window"]
                )
                return self._store_job(context, state, entry, found)
            self.log.warning(
                "An earlier try of this task may have submitted a %s job for %s without storing its id "
                "(the worker died between the two), and %s cannot list jobs: a second job may now "
                "exist. Check the vendor's console if duplicates matter.",
                self.kind,
                entry["window"],
                self.hook_class.hook_name,
            )
        entry["pending"] = True
        self._save(context, state)
        try:
            job = self.hook.submit_job(self.kind, start, end, params)
        except AmbiguousSubmissionError as exc:
            found = self.hook.find_job(self.kind, start, end, params)
            if found is not None:
                self.log.info("The submit's answer was lost; found %s.", self._what(found))
                return self._store_job(context, state, entry, found)
            raise ExportSubmitAmbiguous(
                f"{self.task_id}: the {self._what()} submit for {entry['window']} may have reached the "
                f"vendor, but its answer was lost ({exc}). The task is not retried, so no second job is "
                "created. Check the vendor's console for a job for this interval; then clear the task "
                "to submit again, or pass its id as job_id."
            ) from exc
        except RequestBudgetExhausted as exc:
            # Held back before sending: no job exists. Retrying inside the budget's window cannot help.
            entry["pending"] = False
            self._save(context, state)
            raise ExportBudgetExhausted(
                f"{self.task_id}: {exc}. Nothing was sent, so no {self.kind} job was created; the task is "
                "not retried. Clear it once the window frees, or raise the budget if the vendor raised yours."
            ) from exc
        except VendorAuthError as exc:
            raise ExportAuthError(
                f"{self.task_id}: {self.hook_class.hook_name} refused the credentials or permissions of "
                f"connection {self.conn_id!r} ({exc}). Fix the connection, then clear the task; it is "
                "not retried automatically."
            ) from exc
        self.log.info("Submitted %s for %s", self._what(job), entry["window"])
        return self._store_job(context, state, entry, job)

    def _store_job(
        self, context: Mapping[str, Any], state: dict[str, Any], entry: dict[str, Any], job: JobRef
    ) -> JobRef:
        entry.update(job=job, pending=False)
        self._save(context, state)
        return job

    def _stage_uri(self, state: dict[str, Any], index: int) -> str:
        """Where a result body that comes with job ``index``'s final status is kept until landed."""
        partition = Partition.parse(state["interval"], self.export_name)
        return self._landing(partition, state["attempt"]).staging_uri(f"job-{index:03d}.body")

    def _trigger(self, state: dict[str, Any], job: JobRef, index: int) -> JobPollTrigger:
        first_delay = self.first_poll_delay if index >= 0 else 0.0
        if self.deferrable:
            # A deferred wait never polls sooner than one poll interval after deferring: a trigger
            # that fires at once races the scheduler's handling of the deferring try's exit, and
            # Airflow 3.3 may then fail the task (apache/airflow#71580, #72716). Nothing is lost:
            # a job just submitted is not done yet, a prerequisite was just seen unmet, and a
            # resumed job seen finished is landed without deferring (_check_resumable).
            first_delay = max(first_delay, self.poll_interval)
        schedule = PollSchedule.starting_now(
            self.timeout,
            interval=self.poll_interval,
            max_interval=self.max_poll_interval,
            backoff=self.poll_backoff,
            first_delay=first_delay,
        )
        return JobPollTrigger(
            hook_class=f"{self.hook_class.__module__}.{self.hook_class.__qualname__}",
            conn_id=self.conn_id,
            job=job,
            schedule=schedule.to_dict(),
            hook_params=self.hook_params,
            stage_uri=self._stage_uri(state, index),
            stage_conn_id=self.output_conn_id,
        )

    def _wait(
        self, context: Mapping[str, Any], state: dict[str, Any], job: JobRef, method: str, index: int
    ) -> Any:
        trigger = self._trigger(state, job, index)
        if self.deferrable:
            self.defer(
                trigger=trigger,
                method_name=method,
                kwargs={"state": state, "index": index},
                timeout=timedelta(seconds=self.timeout) + DEFER_BACKSTOP,
            )
        return getattr(self, method)(context, trigger.poll_in_worker().to_payload(), state=state, index=index)

    # -- execution ---------------------------------------------------------------------------
    def execute(self, context: Mapping[str, Any]) -> Any:
        partition = self.partition(context)
        if self.job_id:
            state = self._fresh_state(context, partition)
            if len(state["jobs"]) != 1:
                raise ValueError(f"{self.task_id}: job_id attaches to one job; this interval needs several")
            state["jobs"][0].update(job=self.hook.attach_job(self.kind, str(self.job_id)))
            return self._advance(context, state)
        state = self._resume_state(context, partition)
        if not any(e.get("job") for e in state["jobs"]):
            start, end = _parse_window(state["export_interval"])
            first = self.prerequisite(context, start, end)
            if first is not None:
                return self._wait(context, state, first, "prerequisite_met", -1)
        return self._advance(context, state)

    def prerequisite_met(
        self, context: Mapping[str, Any], event: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Resume point after waiting for the prerequisite."""
        parsed = JobEvent.from_payload(event)
        raise_for_event(parsed, f"{self._what()} prerequisite ({parsed.job.get('job_id')})")
        return self._advance(context, self._state_after_defer(context, kwargs))

    def job_finished(
        self, context: Mapping[str, Any], event: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Resume point after a job ended: raise on failure, else go on with the next job or land."""
        parsed = JobEvent.from_payload(event)
        state = self._state_after_defer(context, kwargs)
        entry = next(e for e in state["jobs"] if e.get("job") and e["job"]["job_id"] == parsed.job["job_id"])
        if not parsed.succeeded:
            # A retry must submit anew rather than resume a job that failed.
            entry.update(job=None, pending=False, done=False)
            self._save(context, state)
        raise_for_event(parsed, self._what(parsed.job))
        entry.update(
            done=True, staged_uri=parsed.staged_uri, vendor_state=parsed.vendor_state, polls=parsed.polls
        )
        self._save(context, state)
        return self._advance(context, state)

    def _state_after_defer(self, context: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        # The defer kwargs carry the state; task_state_store holds the same (``dag.test`` drops
        # defer kwargs when it runs the trigger in line).
        state = kwargs.get("state")
        store = context.get("task_state_store")
        if state is None and store is not None:
            state = store.get(STATE_KEY)
        if not isinstance(state, dict):
            raise RuntimeError(f"{self.task_id}: resumed after deferral without its job state")
        return state

    def _advance(self, context: Mapping[str, Any], state: dict[str, Any]) -> Any:
        for index, entry in enumerate(state["jobs"]):
            if entry.get("done"):
                continue
            job = entry.get("job") or self._submit(context, state, entry)
            self._running = [job]
            if self.wait_for_completion:
                return self._wait(context, state, job, "job_finished", index)
        job_ids = [e["job"]["job_id"] for e in state["jobs"]]
        context["ti"].xcom_push(key="job_ids", value=job_ids)
        if not self.wait_for_completion:
            return {
                "job_ids": job_ids,
                "jobs": [e["job"] for e in state["jobs"]],
                "interval": state["interval"],
            }
        return self._land(context, state)

    def _land(self, context: Mapping[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        partition = Partition.parse(state["interval"], self.export_name)
        landing = self._landing(partition, state["attempt"])
        facts: dict[str, Any] = {}
        for entry in state["jobs"]:
            job: JobRef = entry["job"]
            staged = entry.get("staged_uri")
            status = JobStatus(
                job_id=job["job_id"],
                outcome=JobOutcome.SUCCEEDED,
                vendor_state=entry.get("vendor_state"),
                details={"polls": entry["polls"]} if entry.get("polls") is not None else {},
                result=JobResult(staged_uri=staged) if staged else None,
            )
            facts.update(self.hook.land_result(job, status, landing) or {})
        self._running = []
        job_ids = [e["job"]["job_id"] for e in state["jobs"]]
        summary = landing.publish(
            vendor=self.vendor,
            dataset=self.dataset,
            kind=self.kind,
            source="job",
            interval=partition.interval,
            export_interval=state["export_interval"],
            export_name=self.export_name,
            job_ids=job_ids,
            **facts,
        )
        self.log.info(
            "Landed %d records from %s in %d objects under %s",
            summary["records"],
            ", ".join(job_ids),
            len(summary["pages"]),
            landing.prefix,
        )
        dataset_uri = f"{self.output_base_uri.rstrip('/')}/raw/{self.vendor}/{self.dataset}"
        self.lineage_outputs = [dataset_uri]
        emit_asset_event(
            context,
            self.raw_asset,
            dataset_uri,
            {
                "rows": summary["records"],
                "interval": partition.interval,
                "export": self.export_name,
                "job_ids": job_ids,
                "manifest": for_xcom(summary)["manifest_uri"],
                **{k: v for k, v in facts.items() if isinstance(v, str | int | float | bool)},
            },
        )
        return for_xcom(summary)

    def on_kill(self) -> None:
        for job in self._running:
            try:
                self.hook.cancel_job(job)
                self.log.info("Cancelled %s", self._what(job))
            except Exception as exc:  # best effort: the task is being killed anyway
                self.log.warning("Could not cancel %s: %s", self._what(job), exc)
