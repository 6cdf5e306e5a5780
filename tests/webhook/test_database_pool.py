"""With DATABASE_POOL_MAX (the web processes' psycopg pool), a PostgreSQL restart costs no failed request: the pool
checks a connection before handing it out and replaces the dead ones."""

import subprocess
import sys

import pytest
from django.db import connection

from tests.support.processes import ROOT, subprocess_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A web process in miniature: the real settings module, each "request" takes a pooled connection, queries, and
# gives it back (Django's close() with a pool), as the request cycle does.
PROCESS = """
import sys
import django
django.setup()
from django.db import connection

def request():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:
        return f"failed: {type(error).__name__}: {error}".replace("\\n", " ")
    finally:
        connection.close()

assert connection.settings_dict["OPTIONS"].get("pool"), "the pool is not on"
print(request(), flush=True)
sys.stdin.readline()  # the test restarts PostgreSQL meanwhile
print(request(), flush=True)
"""


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """A restart also kills this thread's connection, which pytest-django needs to flush the database."""
    yield
    connection.close()


def restart_postgresql() -> None:
    subprocess.run(["bash", "scripts/postgres", "restart"], check=True, timeout=60, cwd=ROOT,
                   env={"PGPORT": str(connection.settings_dict["PORT"]), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


def test_the_first_query_after_a_postgresql_restart_succeeds_with_the_pool_on(test_thread_reconnects):
    process = subprocess.Popen([sys.executable, "-c", PROCESS], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=subprocess_env(DATABASE_POOL_MAX="2", CONN_MAX_AGE="0"))
    try:
        assert process.stdout.readline().strip() == "ok", process.stderr.read()
        restart_postgresql()
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "ok"
    finally:
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
