"""``scripts/run`` on a fresh clone writes a development ``.env`` once, so the README's other commands work as
written. The script runs for real; only the programs it starts (pip, manage.py, honcho) are stand-ins that record
how they were called, in a copy of the scripts folder."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = """#!/bin/sh
echo "$0 $*" >> "{log}"
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run", project / "scripts" / "run")
    (project / "scripts" / "bootstrap").write_text("#!/usr/bin/env bash\n")  # installs nothing here
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)  # generates the secret
    for name in ("honcho",):
        (bin_dir / name).write_text(STAND_IN.format(log=tmp_path / "calls.log"))
        (bin_dir / name).chmod(stat.S_IRWXU)
    (project / "manage.py").write_text("import sys\nopen(%r, 'a').write(' '.join(sys.argv) + '\\n')\n"
                                       % str(tmp_path / "calls.log"))
    (project / "Procfile").write_text("web: true\n")
    return project


def _run(project: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DEBUG", "SECRET_KEY", "BOT_TOKEN", "BOT_WEBHOOK_SECRET")}
    env["PATH"] = f"{project / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run(["bash", "scripts/run"], cwd=project, env=env, capture_output=True, text=True, timeout=60)


def test_first_start_writes_a_development_env_with_a_generated_secret_and_keeps_it_after(tmp_path):
    project = _project(tmp_path)
    first = _run(project)
    assert first.returncode == 0, first.stderr
    env_file = (project / ".env").read_text()
    lines = dict(line.split("=", 1) for line in env_file.splitlines() if line and not line.startswith("#"))
    assert lines["DEBUG"] == "true"
    assert len(lines["SECRET_KEY"]) >= 50
    assert "Wrote .env" in first.stdout

    second = _run(project)
    assert second.returncode == 0, second.stderr
    assert (project / ".env").read_text() == env_file  # never rewritten: the secret stays
    assert "Wrote .env" not in second.stdout
    calls = (tmp_path / "calls.log").read_text()
    assert calls.count("migrate") == 2 and "honcho start" in calls


def test_an_existing_env_is_left_alone(tmp_path):
    project = _project(tmp_path)
    (project / ".env").write_text("DEBUG=false\nSECRET_KEY=operator-chosen\n")
    assert _run(project).returncode == 0
    assert (project / ".env").read_text() == "DEBUG=false\nSECRET_KEY=operator-chosen\n"
