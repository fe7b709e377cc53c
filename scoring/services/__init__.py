"""Writes for the scoring app: agreement reports, and the model (pre-scoring, retraining)."""

from scoring.services.agreement import (  # noqa: F401
    DEFAULT_BOOTSTRAP,
    _domain,
    agreement_report_build,
    agreement_report_execute,
    agreement_report_latest_done,
    agreement_report_plots,
    agreement_report_request,
)
from scoring.services.model import (  # noqa: F401
    ModelStateError,
    model_job_start,
    model_version_activate,
    model_version_ensure_initial,
    prescore_execute,
    retrain_execute,
)
