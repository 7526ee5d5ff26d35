"""Student versions from instructor notebooks, resets, and checking a student's work.

The instructor's notebook (``labs/solutions/NN-name.ipynb``) is the source. Answers sit
between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines (nbgrader's markers); the student
version (``labs/NN-name.ipynb``) has ``...  # your answer`` there instead, so its checks
say "not yet" with a hint, and the notebook still runs from top to bottom.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labcloud.lab.checks import RESULTS_ENV, Result
from labcloud.lab.labs import LABS, forget_states, lab_number

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
PLACEHOLDER = "...  # your answer"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = "(live widgets: they appear here when you run this cell)"
EXERCISE_TAG = "exercise"  # a student's exercise cell: its output is never stored ...
IGNORE_OUTPUT = "nbval-ignore-output"  # ... nor compared by nbval


def labs_dir() -> Path:
    """``labs/`` of a source checkout, or of the current directory."""
    checkout = Path(__file__).resolve().parents[2] / "labs"
    return checkout if (checkout / "solutions").is_dir() else Path.cwd() / "labs"


def strip_solutions(source: str) -> str:
    """The student's version of one cell's source.

    >>> print(strip_solutions("x = 1\\n# BEGIN SOLUTION\\nanswer = 42\\n# END SOLUTION\\n"))
    x = 1
    answer = ...  # your answer
    <BLANKLINE>
    >>> print(strip_solutions("# BEGIN SOLUTION\\nstatus, body = f(\\n  x,\\n)\\n# END SOLUTION"))
    status = ...  # your answer
    body = ...  # your answer
    <BLANKLINE>
    """
    out: list[str] = []
    inside, indent = False, ""
    names: list[str] = []
    for line in source.splitlines(keepends=True):
        if not inside and (m := BEGIN.match(line)):
            inside, indent, names = True, m.group(1), []
            continue
        if inside and END.match(line):
            inside = False
            # keep the names the answer assigns, so later cells can still refer to them
            for name in names or [""]:
                out.append(f"{indent}{name + ' = ' if name else ''}{PLACEHOLDER}\n")
            continue
        if inside:
            top = line.startswith(indent) and not line[len(indent) :].startswith(" ")
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_, ()]*?)\s*=(?!=)", line)
            for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1)) if m and top else []:
                if name not in names:
                    names.append(name)
            continue
        out.append(line)
    return "".join(out)


def student_notebook(solution: dict[str, Any]) -> dict[str, Any]:
    """The student version of an instructor notebook: answers out, outputs cleared; laid out
    as nbformat and ruff write notebooks (sources as lists of lines, a code cell without a
    final newline), so ``ruff format --check`` finds nothing to change."""
    nb: dict[str, Any] = json.loads(json.dumps(solution))
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["source"] = strip_solutions(source).rstrip("\n").splitlines(keepends=True)
            cell["outputs"], cell["execution_count"] = [], None
            if PLACEHOLDER in "".join(cell["source"]):
                tags = cell.setdefault("metadata", {}).setdefault("tags", [])
                tags.extend(t for t in (EXERCISE_TAG, IGNORE_OUTPUT) if t not in tags)
        elif "BEGIN SOLUTION" in source:
            cell["source"] = re.sub(
                r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->",
                "*(your answer)*",
                source,
                flags=re.S,
            ).splitlines(keepends=True)
    nb["metadata"].pop("widgets", None)
    return nb


def paths(number: str, root: Path | None = None) -> tuple[Path, Path]:
    """(instructor notebook, student notebook) of lab ``number`` (``04``, ``4``, ``watch``).

    Raises UnknownLab, whose message is one sentence, for a lab that does not exist."""
    root = root or labs_dir()
    stem = LABS[lab_number(number)][0]
    return root / "solutions" / f"{stem}.ipynb", root / f"{stem}.ipynb"


@dataclass(frozen=True)
class Reset:
    notebook: Path
    backup: Path | None  # the student's notebook as it was, or None when there was none
    forgotten: int  # cloud state folders removed
    seconds: float


def reset(number: str, root: Path | None = None, *, backup: bool = True) -> Reset:
    """Put lab ``number``'s notebook back as it was handed out, and forget its cloud.

    The student's notebook is first copied to ``backups/<stem>-<time>.ipynb`` beside it
    (``backup=False``: not kept), so a reset by mistake loses nothing."""
    start = time.perf_counter()
    solution, student = paths(number, root)
    kept = None
    if backup and student.exists():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        kept = student.parent / "backups" / f"{student.stem}-{stamp}.ipynb"
        kept.parent.mkdir(exist_ok=True)
        shutil.copy2(student, kept)
    nb = student_notebook(json.loads(solution.read_text()))
    student.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    forgotten = forget_states(lab_number(number))
    return Reset(student, kept, len(forgotten), time.perf_counter() - start)


def run_and_check(path: Path, timeout: float = 300) -> list[Result]:
    """Execute a notebook (as a student handed it in) and return its checks' results.

    Every cell runs, also after one that raised (as "Run All" with errors allowed), so
    the other exercises are still graded; each cell that raised adds a failed Result
    naming the cell, the exception's type and its message."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="labcloud-check-") as tmp:
        results_file = Path(tmp) / "results.jsonl"
        os.environ[RESULTS_ENV] = str(results_file)
        stopped: list[Result] = []
        try:
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": tmp}},
            )
            try:
                client.execute()
            except (CellTimeoutError, DeadKernelError) as exc:
                reason = f"the notebook stopped: {type(exc).__name__}: {str(exc)[:200]}"
                stopped.append(Result("(notebook)", False, reason))
        finally:
            os.environ.pop(RESULTS_ENV, None)
        return [*_read(results_file), *cell_errors(nb), *stopped]


def cell_errors(nb: Any) -> list[Result]:
    """A failed Result for each code cell whose output is an error."""
    errors = []
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                what = f"code cell {number} raised {output.ename}: {output.evalue[:200]}"
                errors.append(Result("(notebook)", False, what))
    return errors


def _read(results_file: Path) -> list[Result]:
    if not results_file.exists():
        return []
    return [Result(**json.loads(line)) for line in results_file.read_text().splitlines()]


def execute(path: Path, timeout: float = 300) -> None:
    """Run a notebook in place and keep its outputs (what nbval compares against), without
    the widgets' saved state, which changes on every run, and without what an exercise
    cell printed (a student sees no verdict, hint or answer before trying)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    NotebookClient(nb, timeout=timeout, kernel_name="python3").execute()
    strip_widget_outputs(nb)
    for cell in nb.cells:
        if EXERCISE_TAG in cell.get("metadata", {}).get("tags", []):
            cell["outputs"], cell["execution_count"] = [], None
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]


def strip_widget_outputs(nb: Any) -> None:
    """Drop the widgets' saved state and views: a handed-out notebook says what its cell
    will show, never a stale ``VBox(children=(<... object at 0x…>``."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/plain": WIDGET_PLACEHOLDER}


def build(number: str, root: Path | None = None) -> tuple[Path, Path]:
    """Run the instructor's notebook, write the student's from it, run that too."""
    solution, student = paths(number, root)
    execute(solution)
    reset(number, root, backup=False)
    execute(student)
    return solution, student
