"""The labs as an instructor sees them: student versions made from the solutions, checks
that pass on the solutions and fail (with hints) on the blank exercises, resets."""

from __future__ import annotations

import csv
import json
import os
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
EXERCISES = [n for n in WRITTEN if "check(" in labs.paths(n)[0].read_text()]


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
    for cell in json.loads(student.read_text())["cells"]:  # no verdict, hint or answer shown
        if cell["cell_type"] == "code" and labs.PLACEHOLDER in "".join(cell["source"]):
            assert cell["outputs"] == [], f"{student}: an exercise cell shows its output"
            assert labs.EXERCISE_TAG in cell["metadata"]["tags"]


@pytest.mark.parametrize("number", EXERCISES)
def test_solutions_pass_their_checks_and_blanks_fail_them_with_hints(number: str) -> None:
    solution, student = labs.paths(number)
    passed = labs.run_and_check(solution)
    assert len(passed) >= 2, "a lab has at least two exercises"
    assert all(r.passed for r in passed), [r for r in passed if not r.passed]
    blank = labs.run_and_check(student)
    assert [r.exercise for r in blank] == [r.exercise for r in passed]
    assert not any(r.passed for r in blank)
    assert all(r.hint for r in blank)


def labcloud_cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def test_every_notebook_has_a_source_and_the_catalogue_lists_them() -> None:
    assert set(WRITTEN) == set(LABS), "every lab can be reset from labs/solutions/"
    shipped = {p.stem for p in ROOT.glob("*.ipynb")}
    assert shipped == {stem for stem, _ in LABS.values()}


@pytest.mark.parametrize("name", ["04", "4", "00", "watch-and-step"])
def test_reset_keeps_a_backup_and_restores_the_handed_out_notebook(
    tmp_path: Path, name: str
) -> None:
    root = tmp_path / "labs"
    shutil.copytree(ROOT, root)
    _, student = labs.paths(name, root)
    mine = student.read_text().replace(
        '"cells": [',
        '"cells": [{"cell_type": "markdown", "metadata": {}, "source": "my notes"},',
        1,
    )
    student.write_text(mine)
    out = labcloud_cli(
        "lab",
        "reset",
        name,
        "--labs-dir",
        str(root),
        timeout=60,
        LABCLOUD_STATE_DIR=str(tmp_path / "state"),
    )
    assert out.returncode == 0, out.stderr
    assert "reset" in out.stdout
    assert "my notes" not in student.read_text()
    backups = list((root / "backups").glob(f"{student.stem}-*.ipynb"))
    assert [b.read_text() for b in backups] == [mine]
    assert str(backups[0]) in out.stdout


def test_an_unknown_lab_gets_one_plain_sentence(tmp_path: Path) -> None:
    out = labcloud_cli("lab", "reset", "99", "--labs-dir", str(ROOT), timeout=60)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("there is no lab '99'"), out.stderr
    assert "labcloud lab list" in out.stderr


def test_two_kernels_running_one_lab_do_not_share_its_state(tmp_path: Path) -> None:
    """Two copies of lab 02 started at once under one HOME: both clouds run, apart."""
    script = (
        "from labcloud.lab import start\n"
        "cloud = start('02')\n"
        "print(cloud.state_dir)\n"
        "cloud.login('demo')\n"
        "cloud.stop()\n"
    )
    env = {**os.environ, "LABCLOUD_STATE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]
    dirs = {out.strip() for out, _ in outs}
    assert len(dirs) == 3


def solved(number: str, exercises: set[str]) -> dict[str, object]:
    """Lab ``number``'s student notebook with the solutions of ``exercises`` put back in."""
    solution, student = labs.paths(number)
    nb = json.loads(student.read_text())
    answers = json.loads(solution.read_text())["cells"]
    for cell, answer in zip(nb["cells"], answers, strict=True):
        text = "".join(answer["source"])
        if any(f'"{e}"' in text for e in exercises):
            cell["source"] = answer["source"]
    return nb


def test_lab_check_grades_a_folder_of_handed_in_notebooks(tmp_path: Path) -> None:
    number = "02"
    solution, student = labs.paths(number)
    all_exercises = [r.exercise for r in labs.run_and_check(solution) if r.exercise[0].isdigit()]
    first = all_exercises[0]
    folder = tmp_path / "handed-in"
    for who, nb in {
        "blank": json.loads(student.read_text()),
        "half": solved(number, {first}),
        "done": json.loads(solution.read_text()),
    }.items():
        (folder / who).mkdir(parents=True)
        (folder / who / student.name).write_text(json.dumps(nb))
    out = labcloud_cli("lab", "check", str(folder), "--csv", str(tmp_path / "grades.csv"))
    assert out.returncode == 1, out.stdout + out.stderr  # not everyone passed
    with (tmp_path / "grades.csv").open() as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    assert table["done"]["score"] == str(len(all_exercises))
    assert table["blank"]["score"] == "0"
    assert table["half"]["score"] == "1"
    assert table["half"][first] == "passed"
    assert table["half"][all_exercises[1]].startswith("not yet: ")  # the hint, for feedback
    assert "hints and errors:" in out.stdout


def test_lab_check_names_a_failing_cell_and_grades_the_rest(tmp_path: Path) -> None:
    solution, _ = labs.paths("02")
    nb = json.loads(solution.read_text())
    mistake = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    nb["cells"].insert(len(nb["cells"]) // 2, mistake | {"source": "raise ValueError('mine')"})
    broken = tmp_path / "02-rest-and-tokens.ipynb"
    broken.write_text(json.dumps(nb))
    results = labs.run_and_check(broken)
    errors = [r.hint for r in results if r.exercise == "(notebook)"]
    assert any("raised ValueError: mine" in e for e in errors), errors
    graded = [r for r in results if r.exercise != "(notebook)"]
    assert len(graded) >= 2, "the exercises after the error were graded too"
    assert all(r.passed for r in graded)


def test_reset_restores_the_handed_out_notebook(tmp_path: Path) -> None:
    root = tmp_path / "labs"
    shutil.copytree(ROOT, root)
    number = EXERCISES[0]
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
    _, student = labs.paths(EXERCISES[0])
    out = subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "lab", "check", str(student)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "✗" in out.stdout
    assert "✓" not in out.stdout
