from django.apps import AppConfig


class PromocodesConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'promocodes'
