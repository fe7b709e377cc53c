from django.urls import path

from scoring import views

urlpatterns = [
    path("studies/<slug:slug>/report/", views.report_page, name="report"),
    path("studies/<slug:slug>/report.json", views.report_json, name="report_json"),
    path("studies/<slug:slug>/report.csv", views.report_csv_view, name="report_csv"),
    path("studies/<slug:slug>/export/consensus.csv", views.consensus_csv, name="export_consensus"),
    path("studies/<slug:slug>/adjudicate/<str:public_id>/", views.adjudicate_case, name="adjudicate_case"),
    path("studies/<slug:slug>/members/<int:membership_id>/adjudicator/", views.member_adjudicator, name="member_adjudicator"),
]
