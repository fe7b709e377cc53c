from django.urls import path

from annotation import views, views_audit, views_reading

urlpatterns = [
    path("", views.home, name="home"),
    path("studies/new/", views.study_create, name="study_create"),
    path("studies/<slug:slug>/", views.study_detail, name="study"),
    path("studies/<slug:slug>/settings/", views.study_settings, name="study_settings"),
    path("studies/<slug:slug>/members/", views.member_add, name="member_add"),
    path("studies/<slug:slug>/open/", views.study_open, name="study_open"),
    path("studies/<slug:slug>/lock/", views.study_lock, name="study_lock"),
    path("studies/<slug:slug>/upload/", views.study_upload, name="study_upload"),
    path("studies/<slug:slug>/imports/<int:job_id>/", views.import_job_detail, name="import_job"),
    path("studies/<slug:slug>/ratings/import/", views.ratings_upload, name="ratings_upload"),
    path("studies/<slug:slug>/export/ratings.csv", views.export_ratings, name="export_ratings"),
    path("studies/<slug:slug>/export/scores.csv", views.export_scores, name="export_scores"),
    path("studies/<slug:slug>/audit/", views_audit.study_audit, name="study_audit"),
    path("studies/<slug:slug>/export/audit.csv", views_audit.export_audit, name="export_audit"),
    path("studies/<slug:slug>/cases/<str:public_id>/image.png", views.owner_case_image, name="owner_case_image"),
    path("studies/<slug:slug>/read/", views_reading.study_read, name="study_read"),
    path("studies/<slug:slug>/done/", views_reading.study_done, name="study_done"),
    path("read/<str:public_id>/", views_reading.read_case, name="read_case"),
    path("read/<str:public_id>/flag/", views_reading.read_case_flag, name="read_case_flag"),
    path("read/<str:public_id>/image.png", views_reading.read_image, name="read_image"),
    path("read/<str:public_id>/saliency.png", views_reading.read_saliency, name="read_saliency"),
]
