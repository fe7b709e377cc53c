from django.urls import path

from reading import views

urlpatterns = [
    path("studies/<slug:slug>/read/", views.study_read, name="study_read"),
    path("studies/<slug:slug>/done/", views.study_done, name="study_done"),
    path("studies/<slug:slug>/my-cases/", views.study_my_cases, name="study_my_cases"),
    path("read/<str:public_id>/", views.read_case, name="read_case"),
    path("read/<str:public_id>/flag/", views.read_case_flag, name="read_case_flag"),
    path("read/<str:public_id>/image.png", views.read_image, name="read_image"),
    path("read/<str:public_id>/saliency.png", views.read_saliency, name="read_saliency"),
]
