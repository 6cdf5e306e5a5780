import pytest
from django.contrib.auth.models import Permission


@pytest.fixture
def staff_client(client, django_user_model):
    """A client logged in as a staff member holding only the given permissions ("app.codename")."""

    def make(*perms: str, username: str = "operator"):
        staff = django_user_model.objects.create_user(username=username, password="pw", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        client.force_login(staff)
        return client

    return make
