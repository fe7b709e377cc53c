"""Routes of the REST API, mounted at /api/v1/ (namespace "api"). Schema: /api/schema/, docs: /api/docs/.

Model versions, pre-score and retrain jobs and predictions (scoring/api_model.py) are for owners
only, like the model page; a rater sees model output only where the study's model assistance shows
it in their own reading.
"""

from django.urls import path

from annotation.api import auth, cases, reading, studies
from scoring import api as scoring_api
from scoring import api_model

app_name = "api"

# Public ids of cases and assignments are URL-safe tokens: the slug converter matches exactly them.
urlpatterns = [
    path("auth/login/", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/token/", auth.TokenApi.as_view(), name="auth-token"),
    path("auth/me/", auth.MeApi.as_view(), name="auth-me"),
    path("rubrics/", studies.RubricsApi.as_view(), name="rubrics"),
    # studies, members: owners (observers read)
    path("studies/", studies.StudiesApi.as_view(), name="studies"),
    path("studies/<slug:slug>/", studies.StudyApi.as_view(), name="study"),
    path("studies/<slug:slug>/open/", studies.StudyOpenApi.as_view(), name="study-open"),
    path("studies/<slug:slug>/lock/", studies.StudyLockApi.as_view(), name="study-lock"),
    path("studies/<slug:slug>/members/", studies.MembersApi.as_view(), name="members"),
    path("studies/<slug:slug>/members/<int:member_id>/", studies.MemberApi.as_view(), name="member"),
    # cases, imports, flags, exports: owners only
    path("studies/<slug:slug>/cases/", cases.CasesApi.as_view(), name="cases"),
    path("studies/<slug:slug>/cases/<slug:case_id>/", cases.CaseApi.as_view(), name="case"),
    path("studies/<slug:slug>/cases/<slug:case_id>/image.png", cases.CaseImageApi.as_view(), name="case-image"),
    path("studies/<slug:slug>/imports/", cases.ImportsApi.as_view(), name="imports"),
    path("studies/<slug:slug>/imports/<int:job_id>/", cases.ImportApi.as_view(), name="import"),
    path("studies/<slug:slug>/ratings/import/", cases.RatingsImportApi.as_view(), name="ratings-import"),
    path("studies/<slug:slug>/flags/", cases.FlagsApi.as_view(), name="flags"),
    path("studies/<slug:slug>/exports/ratings/", cases.RatingsExportApi.as_view(), name="export-ratings"),
    path("studies/<slug:slug>/exports/ratings.csv", cases.RatingsCsvApi.as_view(), name="export-ratings-csv"),
    path("studies/<slug:slug>/exports/scores.csv", cases.ScoresCsvApi.as_view(), name="export-scores-csv"),
    # agreement, consensus, adjudication: owners and observers; case-level for owners and adjudicators
    path("studies/<slug:slug>/report/", scoring_api.ReportApi.as_view(), name="report"),
    path("studies/<slug:slug>/report.csv", scoring_api.ReportCsvApi.as_view(), name="report-csv"),
    path("studies/<slug:slug>/consensus/", scoring_api.ConsensusApi.as_view(), name="consensus"),
    path("studies/<slug:slug>/exports/consensus.csv", scoring_api.ConsensusCsvApi.as_view(), name="export-consensus-csv"),
    path("studies/<slug:slug>/adjudications/<slug:case_id>/", scoring_api.AdjudicationApi.as_view(), name="adjudication"),
    # model versions, pre-score and retrain jobs, predictions: owners only
    path("studies/<slug:slug>/model-versions/", api_model.ModelVersionsApi.as_view(), name="model-versions"),
    path("studies/<slug:slug>/model-versions/<int:number>/", api_model.ModelVersionApi.as_view(), name="model-version"),
    path("studies/<slug:slug>/model-versions/<int:number>/activate/", api_model.ModelVersionActivateApi.as_view(),
         name="model-version-activate"),
    path("studies/<slug:slug>/jobs/", api_model.ModelJobsApi.as_view(), name="model-jobs"),
    path("studies/<slug:slug>/jobs/<int:model_job_id>/", api_model.ModelJobApi.as_view(), name="model-job"),
    path("studies/<slug:slug>/predictions/", api_model.PredictionsApi.as_view(), name="predictions"),
    path("studies/<slug:slug>/exports/predictions.csv", api_model.PredictionsCsvApi.as_view(), name="export-predictions-csv"),
    # the rater's own queue
    path("studies/<slug:slug>/queue/next/", reading.QueueNextApi.as_view(), name="queue-next"),
    path("studies/<slug:slug>/queue/mine/", reading.QueueMineApi.as_view(), name="queue-mine"),
    path("assignments/<slug:assignment_id>/", reading.AssignmentApi.as_view(), name="assignment"),
    path("assignments/<slug:assignment_id>/image.png", reading.AssignmentImageApi.as_view(), name="assignment-image"),
    path("assignments/<slug:assignment_id>/ratings/", reading.AssignmentRatingsApi.as_view(), name="assignment-ratings"),
    path("assignments/<slug:assignment_id>/flag/", reading.AssignmentFlagApi.as_view(), name="assignment-flag"),
]
