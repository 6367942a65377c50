"""Errors an export task raises when a vendor job does not give us data."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class ExportJobError(AirflowException):
    """Base class: the export job did not produce data. The message names vendor, job and cause."""


class ExportJobFailed(ExportJobError):
    """The vendor reports the job FAILED, CANCELLED or EXPIRED."""


class ExportJobTimeout(ExportJobError):
    """We stopped waiting: the absolute deadline passed."""


class ExportJobApiError(ExportJobError):
    """The vendor API refused to report the job's state (e.g. 404, 403)."""


class DataNotAvailableError(ExportJobError):
    """The vendor's data store does not yet cover the requested interval."""


class IntervalError(AirflowException):
    """The task has no usable export interval."""


class ExportSubmitAmbiguous(AirflowFailException):
    """A submit may have reached the vendor but its answer was lost: not retried, so no second job."""


class ExportAuthError(AirflowFailException):
    """The vendor refused the connection's credentials or permissions: retrying cannot help."""


class ExportBudgetExhausted(AirflowFailException):
    """A shared request budget (Brightmetrics: 150 a day) had nothing left: nothing was sent, not retried."""
