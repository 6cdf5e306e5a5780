import secrets

from django.contrib.auth import get_user_model

from accounts.management.base import ProjectCommand


class Command(ProjectCommand):
    help = "Create an operator (admin superuser) when none exists yet, and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="Default: a random password, printed once.")

    def handle(self, *args, username, password, **options):
        Operator = get_user_model()
        if Operator.objects.filter(is_superuser=True).exists():
            self.stdout.write("An operator account exists; log in at http://127.0.0.1:8000/admin/")
            return
        password = password or secrets.token_urlsafe(12)
        Operator.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(
            f"Created operator login for http://127.0.0.1:8000/admin/ — username: {username}  password: {password}"
        ))
