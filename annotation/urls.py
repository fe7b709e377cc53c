from django.urls import path

from annotation.views import audit, effort, repairs, studies

urlpatterns = [
    path("", studies.home, name="home"),
    path("studies/new/", studies.study_create, name="study_create"),
    path("studies/<slug:slug>/", studies.study_detail, name="study"),
    path("studies/<slug:slug>/settings/", studies.study_settings, name="study_settings"),
    path("studies/<slug:slug>/members/", studies.member_add, name="member_add"),
    path("studies/<slug:slug>/open/", studies.study_open, name="study_open"),
    path("studies/<slug:slug>/lock/", studies.study_lock, name="study_lock"),
    path("studies/<slug:slug>/upload/", studies.study_upload, name="study_upload"),
    path("studies/<slug:slug>/imports/<int:job_id>/", studies.import_job_detail, name="import_job"),
    path("studies/<slug:slug>/import/dicomweb/", studies.study_dicomweb_import, name="study_dicomweb_import"),
    path("studies/<slug:slug>/ratings/import/", studies.ratings_upload, name="ratings_upload"),
    path("studies/<slug:slug>/export/ratings.csv", studies.export_ratings, name="export_ratings"),
    path("studies/<slug:slug>/audit/", audit.study_audit, name="study_audit"),
    path("studies/<slug:slug>/effort/", effort.study_effort, name="study_effort"),
    path("studies/<slug:slug>/export/audit.csv", audit.export_audit, name="export_audit"),
    path("studies/<slug:slug>/cases/<str:public_id>/image.png", studies.owner_case_image, name="owner_case_image"),
    path("studies/<slug:slug>/cases/<str:public_id>/remove/", studies.case_remove, name="case_remove"),
    path("studies/<slug:slug>/cases/<str:public_id>/exclude/", repairs.case_exclude, name="case_exclude"),
    path("studies/<slug:slug>/cases/<str:public_id>/restore/", repairs.case_restore, name="case_restore"),
    path("studies/<slug:slug>/members/<str:member_id>/remove/", repairs.rater_remove, name="rater_remove"),
    path("studies/<slug:slug>/members/<str:member_id>/replace/", repairs.rater_replace, name="rater_replace"),
    path(
        "studies/<slug:slug>/members/<str:member_id>/invitation/",
        studies.member_invitation,
        name="member_invitation",
    ),
    path(
        "studies/<slug:slug>/members/<str:member_id>/adjudicator/",
        studies.member_adjudicator,
        name="member_adjudicator",
    ),
]
