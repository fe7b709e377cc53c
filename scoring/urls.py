from django.urls import path

from scoring import views, views_model

urlpatterns = [
    path("studies/<slug:slug>/report/", views.report_page, name="report"),
    path("studies/<slug:slug>/report.json", views.report_json, name="report_json"),
    path("studies/<slug:slug>/report.csv", views.report_csv_view, name="report_csv"),
    path("studies/<slug:slug>/export/consensus.csv", views.consensus_csv, name="export_consensus"),
    path("studies/<slug:slug>/adjudicate/<str:public_id>/", views.adjudicate_case, name="adjudicate_case"),
    path("studies/<slug:slug>/members/<int:membership_id>/adjudicator/", views.member_adjudicator, name="member_adjudicator"),
    path("studies/<slug:slug>/model/", views_model.model_page, name="model"),
    path("studies/<slug:slug>/model/prescore/", views_model.model_prescore, name="model_prescore"),
    path("studies/<slug:slug>/model/retrain/", views_model.model_retrain, name="model_retrain"),
    path("studies/<slug:slug>/model/versions/<int:number>/activate/", views_model.model_activate, name="model_activate"),
    path("studies/<slug:slug>/export/predictions.csv", views_model.predictions_export, name="export_predictions"),
    path("studies/<slug:slug>/cases/<str:public_id>/saliency.png", views_model.case_saliency, name="case_saliency"),
]
