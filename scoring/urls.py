from django.urls import path

from scoring.views import agreement, cases, model, planning

urlpatterns = [
    path("plan/", planning.plan_page, name="plan"),
    path("studies/<slug:slug>/report/", agreement.report_page, name="report"),
    path("studies/<slug:slug>/report/compute/", agreement.report_request, name="report_request"),
    path("studies/<slug:slug>/report.json", agreement.report_json, name="report_json"),
    path(
        "studies/<slug:slug>/report/<int:report_id>/figures/<str:total>/<str:figure>.svg",
        agreement.report_figure,
        name="report_figure",
    ),
    path("studies/<slug:slug>/report.csv", agreement.report_csv_view, name="report_csv"),
    path("studies/<slug:slug>/export/consensus.csv", agreement.consensus_csv_view, name="export_consensus"),
    path("studies/<slug:slug>/export/scores.csv", agreement.export_scores, name="export_scores"),
    path("studies/<slug:slug>/adjudicate/<str:public_id>/", agreement.adjudicate_case, name="adjudicate_case"),
    path("studies/<slug:slug>/cases/", cases.case_browser_page, name="case_browser"),
    path("studies/<slug:slug>/cases/<str:public_id>/", cases.case_page, name="case_page"),
    path("studies/<slug:slug>/model/", model.model_page, name="model"),
    path("studies/<slug:slug>/model/prescore/", model.model_prescore, name="model_prescore"),
    path("studies/<slug:slug>/model/retrain/", model.model_retrain, name="model_retrain"),
    path("studies/<slug:slug>/model/versions/<int:number>/activate/", model.model_activate, name="model_activate"),
    path("studies/<slug:slug>/export/predictions.csv", model.predictions_export, name="export_predictions"),
    path("studies/<slug:slug>/cases/<str:public_id>/saliency.png", model.case_saliency, name="case_saliency"),
]
