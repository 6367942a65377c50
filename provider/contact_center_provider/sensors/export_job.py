"""The one job sensor every vendor subclasses: poke once, then defer to the shared poll trigger.

:class:`VendorJobSensor` waits for a job-like reference
(:class:`~contact_center_provider.jobs.JobRef`) to end: a job submitted upstream with
``wait_for_completion=False``, data availability, artifacts appearing at a location.
It succeeds on SUCCEEDED and fails with the vendor's state and message on FAILED,
CANCELLED or EXPIRED; an unknown vendor state fails at once, naming the state.

What a new vendor writes::

    class MyVendorJobSensor(VendorJobSensor):
        hook_class = MyVendorHook
        template_fields = (*VendorJobSensor.template_fields, "job_id")

        def job(self, context) -> JobRef: ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any, ClassVar

from airflow.sdk import BaseSensorOperator

from contact_center_provider.http.retry import RetryPolicy
from contact_center_provider.jobs import JobOutcome, JobRef
from contact_center_provider.operators._common import default_deferrable, raise_for_event
from contact_center_provider.operators.export_job import DEFER_BACKSTOP
from contact_center_provider.triggers.events import EventKind, JobEvent
from contact_center_provider.triggers.job_poll import JobPollTrigger
from contact_center_provider.triggers.polling import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, PollSchedule


class VendorJobSensor(BaseSensorOperator):
    """Wait until a vendor job (or job-like condition) succeeds.

    :param conn_id: the vendor connection (default: the hook's ``default_conn_name``). Templated.
    :param deferrable: defer between pokes (default ``[operators] default_deferrable``).
    :param poke_interval: first wait between polls (grows like the operators' polls).
    :param timeout: seconds to wait in all; an absolute deadline, deferred or not.
    :param retry_policy: the HTTP retry policy of every request.
    :param hook_params: further JSON-native keyword arguments for the vendor hook.
    """

    hook_class: ClassVar[type[Any]]
    template_fields: Sequence[str] = ("conn_id",)

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        deferrable: bool = default_deferrable(),
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.deferrable = deferrable
        self.hook_params: dict[str, Any] = dict(hook_params or {})
        policy = RetryPolicy.from_dict(retry_policy) if isinstance(retry_policy, Mapping) else retry_policy
        if policy is not None:
            self.hook_params["retry_policy"] = policy.to_dict()

    def job(self, context: Mapping[str, Any]) -> JobRef:
        """The job (or job-like condition) to wait for."""
        raise NotImplementedError

    def describe(self, job: JobRef) -> str:
        return f"{self.hook_class.hook_name} {job.get('kind')} job {job.get('job_id')}"

    @cached_property
    def hook(self) -> Any:
        return self.hook_class(self.conn_id, **self.hook_params)

    def poke(self, context: Any) -> bool:
        job = self.job(context)
        status = self.hook.get_job_status(job)
        if status.outcome is JobOutcome.RUNNING:
            return False
        event = JobEvent(EventKind.FINISHED, job, status.outcome, status.vendor_state, status.message)
        raise_for_event(event, self.describe(job))
        return True

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        job = self.job(context)
        # The poke above just looked: the trigger waits one interval before its first poll, so it
        # never fires at once and races the scheduler (apache/airflow#71580, #72716).
        schedule = PollSchedule.starting_now(
            float(self.timeout), interval=float(self.poke_interval), first_delay=float(self.poke_interval)
        )
        self.defer(
            trigger=JobPollTrigger(
                hook_class=f"{self.hook_class.__module__}.{self.hook_class.__qualname__}",
                conn_id=self.conn_id,
                job=job,
                schedule=schedule.to_dict(),
                hook_params=self.hook_params,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)) + DEFER_BACKSTOP,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        parsed = JobEvent.from_payload(event)
        raise_for_event(parsed, self.describe(parsed.job))
