from tests.admin.conftest import staff_client  # noqa: F401 - the same fixture for the back office's pages
