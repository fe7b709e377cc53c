"""Writes for the scoring app, one module per concern:

- agreement.py: agreement reports (requested on a POST, computed by a worker);
- model_versions.py: model versions and starting model jobs, as the web process needs them;
- prescore.py, retrain.py, backbone_cache.py: the model work itself, run on the model queue and
  never imported by the web process (it loads torch).
"""

from scoring.services.agreement import (
    agreement_report_build,
    agreement_report_execute,
    agreement_report_plots,
    agreement_report_request,
)
from scoring.services.model_versions import (
    ModelStateError,
    model_job_start,
    model_version_activate,
    model_version_ensure_initial,
)

__all__ = [
    "ModelStateError",
    "agreement_report_build",
    "agreement_report_execute",
    "agreement_report_plots",
    "agreement_report_request",
    "model_job_start",
    "model_version_activate",
    "model_version_ensure_initial",
]
