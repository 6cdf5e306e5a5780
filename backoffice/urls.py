from django.contrib import admin
from django.urls import path

from backoffice.views import stats_view

# Before the admin's own URLs (config.urls), whose catch-all would answer these paths with a 404.
urlpatterns = [
    path("admin/stats/", admin.site.admin_view(stats_view), name="admin-stats"),
]
