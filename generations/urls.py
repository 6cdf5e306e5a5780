from django.urls import path

from generations import views

app_name = "generations"

urlpatterns = [
    path("fal/webhook/<str:token>/", views.fal_webhook, name="fal-webhook"),
]
