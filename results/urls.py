from django.urls import path

from results import views

app_name = "results"

urlpatterns = [
    path("results", views.result_list, name="list"),
    path("live/results", views.result_list_live, name="list-live"),
]
