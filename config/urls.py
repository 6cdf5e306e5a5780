from django.contrib import admin
from django.urls import path

admin.site.site_header = "Aisha — back office"
admin.site.site_title = "Aisha admin"

urlpatterns = [
    path("admin/", admin.site.urls),
]
