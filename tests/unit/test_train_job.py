"""The job launcher runs as a plain script, the way the training job starts it."""

import json
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[2] / "src" / "train_job.py"


def test_launcher_runs_as_a_script_without_installing_the_package() -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            sys.executable,
            str(LAUNCHER),
            "--model-name",
            "m",
            "--experiment",
            "/e",
            "--git-sha",
            "abc1234",
            "--release",
            "v1.0.0",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["release"] == "v1.0.0"
