"""Writes: every change to studies, members, cases, assignments, ratings and adjudications goes
through these functions, one module per concern; the names are gathered here for callers."""

from annotation.services.adjudication import adjudication_record
from annotation.services.assignment import assignment_order_key, study_assign_cases, study_rebalance
from annotation.services.cases import case_remove
from annotation.services.imports import (
    ImportReport,
    ImportRow,
    StorageQuotaExceeded,
    case_import,
    cases_apply_metadata,
    images_import,
    import_job_create,
    import_job_execute,
    import_limits,
)
from annotation.services.members import (
    MemberAdded,
    member_add,
    member_invitation_renew,
    membership_add,
    membership_set_adjudicator,
    user_get_or_create,
)
from annotation.services.ratings import assignment_flag, rating_store, rating_submit
from annotation.services.repairs import (
    RaterRemoved,
    RaterReplaced,
    case_exclude,
    case_restore,
    rater_remove,
    rater_replace,
)
from annotation.services.storage import files_delete, image_store
from annotation.services.studies import (
    StudyStateError,
    study_create,
    study_lock,
    study_open,
    study_ratings_changed,
    study_update,
)

__all__ = [
    "ImportReport",
    "ImportRow",
    "StudyStateError",
    "adjudication_record",
    "assignment_flag",
    "assignment_order_key",
    "case_import",
    "case_exclude",
    "case_restore",
    "rater_remove",
    "rater_replace",
    "RaterRemoved",
    "RaterReplaced",
    "study_rebalance",
    "cases_apply_metadata",
    "files_delete",
    "image_store",
    "images_import",
    "import_job_create",
    "case_remove",
    "StorageQuotaExceeded",
    "import_job_execute",
    "import_limits",
    "MemberAdded",
    "member_add",
    "member_invitation_renew",
    "membership_add",
    "membership_set_adjudicator",
    "rating_store",
    "rating_submit",
    "study_assign_cases",
    "study_create",
    "study_lock",
    "study_open",
    "study_ratings_changed",
    "study_update",
    "user_get_or_create",
]
