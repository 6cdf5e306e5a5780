"""The back office's composition of the admin (autodiscovered after every app's own ``admin`` module, since
``backoffice`` is the last of our apps): the full user page and the operators' auth pages."""

from django.contrib import admin

from backoffice import auth_admin, user_admin

auth_admin.register(admin.site)
user_admin.register(admin.site)
