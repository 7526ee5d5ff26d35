"""Grading a workshop: every handed-in notebook of a folder, one table of students × exercises.

A folder may hold one notebook per student (``alice-04-boot-flow.ipynb``, or any name) or,
as nbgrader collects them, one folder per student (``alice/04-boot-flow.ipynb``). Each
notebook is run as a student would run it (``run_and_check``); the table has a row per
student and lab, a column per exercise (``passed`` or the hint the student would see),
the score, and what went wrong in cells that raised. It prints in the terminal and, asked
to, is written as CSV for a spreadsheet or a gradebook.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from labcloud.lab.checks import Result
from labcloud.lab.labs import LABS, UnknownLab, lab_number

NOTEBOOK_ERRORS = "(notebook)"


@dataclass
class Graded:
    """One student's notebook of one lab, graded."""

    student: str
    lab: str
    path: Path
    results: list[Result] = field(default_factory=list)

    @property
    def exercises(self) -> dict[str, Result]:
        return {r.exercise: r for r in self.results if r.exercise != NOTEBOOK_ERRORS}

    @property
    def errors(self) -> list[str]:
        return [r.hint for r in self.results if r.exercise == NOTEBOOK_ERRORS]

    @property
    def score(self) -> int:
        return sum(r.passed for r in self.exercises.values())


def find_notebooks(folder: Path) -> list[tuple[str, str, Path]]:
    """(student, lab number, path) for each lab notebook under ``folder``.

    >>> find_notebooks(Path("/nonexistent"))
    []
    """
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "backups" in path.parts:
            continue
        lab = lab_of(path.stem)
        if lab is None:
            continue
        inside = path.relative_to(folder).parts
        if len(inside) > 1:  # nbgrader's layout: <student>/<notebook>
            student = inside[0]
        else:  # <student>-<lab stem>.ipynb, or just the student's name
            student = path.stem.replace(LABS[lab][0], "").strip("-_ ") or path.stem
        found.append((student, lab, path))
    return found


def lab_of(stem: str) -> str | None:
    """The lab a notebook's file name names, if any."""
    for number, (lab_stem, _) in LABS.items():
        if lab_stem in stem:
            return number
    try:
        return lab_number(stem)
    except UnknownLab:
        return None


def grade(
    folder: Path,
    run: Callable[[Path], list[Result]],
    progress: Callable[[str], None] = lambda _: None,
) -> list[Graded]:
    """Run and check every lab notebook under ``folder``."""
    graded = []
    notebooks = find_notebooks(folder)
    for i, (student, lab, path) in enumerate(notebooks, 1):
        progress(f"[{i}/{len(notebooks)}] {student}: {path.name}")
        graded.append(Graded(student, lab, path, run(path)))
    return graded


def columns(graded: Iterable[Graded]) -> list[str]:
    """Every exercise seen, in lab and exercise order."""
    return sorted({e for g in graded for e in g.exercises}, key=lambda e: e.split("."))


def rows(graded: list[Graded]) -> list[list[str]]:
    """The table: header, then one row per graded notebook (cells: passed, or the hint)."""
    exercises = columns(graded)
    table = [["student", "lab", *exercises, "score", "max", "errors"]]
    for g in graded:
        mine = g.exercises
        cells = []
        for e in exercises:
            r = mine.get(e)
            if r is None:
                cells.append("" if not e.startswith(g.lab + ".") else "not run")
            else:
                cells.append("passed" if r.passed else f"not yet: {r.hint}")
        mine_count = sum(e.startswith(g.lab + ".") for e in exercises)
        table.append(
            [g.student, g.lab, *cells, str(g.score), str(mine_count), " | ".join(g.errors)]
        )
    return table


def write_csv(graded: list[Graded], path: Path) -> None:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(rows(graded))


def render(graded: list[Graded]) -> str:
    """The table for a terminal: ✓ / ✗ per exercise, then each student's hints and errors."""
    exercises = columns(graded)
    width = max([len("student"), *(len(g.student) for g in graded)])
    head = f"{'student':{width}}  lab    " + "  ".join(f"{e:6}" for e in exercises) + "  score"
    lines = [head, "-" * len(head)]
    for g in graded:
        mine = g.exercises
        marks = []
        for e in exercises:
            r = mine.get(e)
            marks.append(f"{'' if r is None else ('✓' if r.passed else '✗'):6}")
        total = sum(e.startswith(g.lab + ".") for e in exercises)
        lines.append(
            f"{g.student:{width}}  {g.lab:5}  " + "  ".join(marks) + f"  {g.score}/{total}"
        )
    notes = [
        f"  {g.student} ({g.lab}) {e}: {r.hint}"
        for g in graded
        for e, r in g.exercises.items()
        if not r.passed
    ] + [f"  {g.student} ({g.lab}): {err}" for g in graded for err in g.errors]
    if notes:
        lines += ["", "hints and errors:", *notes]
    return "\n".join(lines)
