from tests.botworker.conftest import bot_env  # noqa: F401 - the end-to-end fixture
