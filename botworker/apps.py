from django.apps import AppConfig


class BotworkerConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'botworker'
