"""The labs as an instructor sees them: student versions made from the solutions, checks
that pass on the solutions and fail (with hints) on the blank exercises, resets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labcloud.lab import LABS
from labcloud.lab import build as labs

pytestmark = pytest.mark.slow
ROOT = labs.labs_dir()
WRITTEN = [n for n in LABS if labs.paths(n)[0].exists()]


def sources(nb: dict[str, object]) -> list[tuple[str, str]]:
    cells = nb["cells"]
    assert isinstance(cells, list)
    return [
        (c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
        for c in cells
    ]


@pytest.mark.parametrize("number", WRITTEN)
def test_the_student_version_is_made_from_the_solutions(number: str) -> None:
    solution, student = labs.paths(number)
    expected = labs.student_notebook(json.loads(solution.read_text()))
    assert sources(json.loads(student.read_text())) == sources(expected), (
        f"{student} is out of date: run `labcloud lab build {number}`"
    )
    assert "BEGIN SOLUTION" not in student.read_text()


@pytest.mark.parametrize("number", WRITTEN)
def test_solutions_pass_their_checks_and_blanks_fail_them_with_hints(number: str) -> None:
    solution, student = labs.paths(number)
    passed = labs.run_and_check(solution)
    assert len(passed) >= 2, "a lab has at least two exercises"
    assert all(r.passed for r in passed), [r for r in passed if not r.passed]
    blank = labs.run_and_check(student)
    assert [r.exercise for r in blank] == [r.exercise for r in passed]
    assert not any(r.passed for r in blank)
    assert all(r.hint for r in blank)


def test_reset_restores_the_handed_out_notebook(tmp_path: Path) -> None:
    root = tmp_path / "labs"
    shutil.copytree(ROOT, root)
    number = WRITTEN[0]
    _, student = labs.paths(number, root)
    student.write_text(student.read_text().replace("...  # your answer", "42"))
    out = subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "lab", "reset", number, "--labs-dir", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "reset" in out.stdout
    assert "...  # your answer" in student.read_text()


def test_lab_check_reports_and_fails_on_blanks(tmp_path: Path) -> None:
    _, student = labs.paths(WRITTEN[0])
    out = subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "lab", "check", str(student)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAILED" in out.stdout
    assert "passed" not in out.stdout.replace("FAILED", "")
