"""Routes of the REST API, mounted at /api/v1/ (namespace "api"). Schema: /api/schema/, docs: /api/docs/.

Model versions, pre-score and retrain jobs and predictions (scoring/api/model.py) are for owners
only, like the model page; a rater sees model output only where the study's model assistance shows
it in their own reading (reading/api.py).
"""

from django.urls import path

from accounts import api as accounts_api
from annotation.api import cases, studies
from reading import api as reading_api
from scoring.api import agreement, model

app_name = "api"

# Public ids of cases and assignments are URL-safe tokens: the slug converter matches exactly them.
urlpatterns = [
    path("auth/login/", accounts_api.LoginApi.as_view(), name="auth-login"),
    path("auth/token/", accounts_api.TokenApi.as_view(), name="auth-token"),
    path("auth/me/", accounts_api.MeApi.as_view(), name="auth-me"),
    path("rubrics/", studies.RubricsApi.as_view(), name="rubrics"),
    # studies, members: owners (observers read)
    path("studies/", studies.StudiesApi.as_view(), name="studies"),
    path("studies/<slug:slug>/", studies.StudyApi.as_view(), name="study"),
    path("studies/<slug:slug>/open/", studies.StudyOpenApi.as_view(), name="study-open"),
    path("studies/<slug:slug>/lock/", studies.StudyLockApi.as_view(), name="study-lock"),
    path("studies/<slug:slug>/members/", studies.MembersApi.as_view(), name="members"),
    path("studies/<slug:slug>/members/<slug:member_id>/", studies.MemberApi.as_view(), name="member"),
    path(
        "studies/<slug:slug>/members/<slug:member_id>/removal/",
        studies.MemberRemovalApi.as_view(),
        name="member-removal",
    ),
    path(
        "studies/<slug:slug>/members/<slug:member_id>/replacement/",
        studies.MemberReplacementApi.as_view(),
        name="member-replacement",
    ),
    path(
        "studies/<slug:slug>/members/<slug:member_id>/invitation/",
        studies.MemberInvitationApi.as_view(),
        name="member-invitation",
    ),
    # cases, imports, flags, exports: owners only
    path("studies/<slug:slug>/cases/", cases.CasesApi.as_view(), name="cases"),
    path("studies/<slug:slug>/cases/<slug:case_id>/", cases.CaseApi.as_view(), name="case"),
    path("studies/<slug:slug>/cases/<slug:case_id>/image.png", cases.CaseImageApi.as_view(), name="case-image"),
    path(
        "studies/<slug:slug>/cases/<slug:case_id>/exclusion/", cases.CaseExclusionApi.as_view(), name="case-exclusion"
    ),
    path("studies/<slug:slug>/imports/", cases.ImportsApi.as_view(), name="imports"),
    path("studies/<slug:slug>/imports/<int:job_id>/", cases.ImportApi.as_view(), name="import"),
    path("studies/<slug:slug>/ratings/import/", cases.RatingsImportApi.as_view(), name="ratings-import"),
    path("studies/<slug:slug>/flags/", cases.FlagsApi.as_view(), name="flags"),
    path("studies/<slug:slug>/exports/ratings/", cases.RatingsExportApi.as_view(), name="export-ratings"),
    path("studies/<slug:slug>/exports/ratings.csv", cases.RatingsCsvApi.as_view(), name="export-ratings-csv"),
    path("studies/<slug:slug>/exports/scores.csv", agreement.ScoresCsvApi.as_view(), name="export-scores-csv"),
    # agreement, consensus, adjudication: owners and observers; case-level for owners and adjudicators
    path("studies/<slug:slug>/report/", agreement.ReportApi.as_view(), name="report"),
    path("studies/<slug:slug>/report.csv", agreement.ReportCsvApi.as_view(), name="report-csv"),
    path("studies/<slug:slug>/consensus/", agreement.ConsensusApi.as_view(), name="consensus"),
    path("studies/<slug:slug>/exports/consensus.csv", agreement.ConsensusCsvApi.as_view(), name="export-consensus-csv"),
    path("studies/<slug:slug>/adjudications/<slug:case_id>/", agreement.AdjudicationApi.as_view(), name="adjudication"),
    # model versions, pre-score and retrain jobs, predictions: owners only
    path("studies/<slug:slug>/model-versions/", model.ModelVersionsApi.as_view(), name="model-versions"),
    path("studies/<slug:slug>/model-versions/<int:number>/", model.ModelVersionApi.as_view(), name="model-version"),
    path(
        "studies/<slug:slug>/model-versions/<int:number>/activate/",
        model.ModelVersionActivateApi.as_view(),
        name="model-version-activate",
    ),
    path("studies/<slug:slug>/jobs/", model.ModelJobsApi.as_view(), name="model-jobs"),
    path("studies/<slug:slug>/jobs/<int:model_job_id>/", model.ModelJobApi.as_view(), name="model-job"),
    path("studies/<slug:slug>/predictions/", model.PredictionsApi.as_view(), name="predictions"),
    path(
        "studies/<slug:slug>/exports/predictions.csv", model.PredictionsCsvApi.as_view(), name="export-predictions-csv"
    ),
    # the rater's own queue
    path("studies/<slug:slug>/queue/next/", reading_api.QueueNextApi.as_view(), name="queue-next"),
    path("studies/<slug:slug>/queue/mine/", reading_api.QueueMineApi.as_view(), name="queue-mine"),
    path("assignments/<slug:assignment_id>/", reading_api.AssignmentApi.as_view(), name="assignment"),
    path(
        "assignments/<slug:assignment_id>/image.png", reading_api.AssignmentImageApi.as_view(), name="assignment-image"
    ),
    path(
        "assignments/<slug:assignment_id>/ratings/",
        reading_api.AssignmentRatingsApi.as_view(),
        name="assignment-ratings",
    ),
    path("assignments/<slug:assignment_id>/flag/", reading_api.AssignmentFlagApi.as_view(), name="assignment-flag"),
]
