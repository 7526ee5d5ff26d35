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
from pathlib import Path
from typing import Any

from labcloud.lab.checks import RESULTS_ENV, Result
from labcloud.lab.labs import LABS, lab_state_dir

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
PLACEHOLDER = "...  # your answer"


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
    """The student version of an instructor notebook: answers out, outputs cleared."""
    nb: dict[str, Any] = json.loads(json.dumps(solution))
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["source"] = strip_solutions(source)
            cell["outputs"], cell["execution_count"] = [], None
        elif "BEGIN SOLUTION" in source:
            cell["source"] = re.sub(
                r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->",
                "*(your answer)*",
                source,
                flags=re.S,
            )
    nb["metadata"].pop("widgets", None)
    return nb


def paths(number: str, root: Path | None = None) -> tuple[Path, Path]:
    """(instructor notebook, student notebook) of lab ``number``."""
    if number not in LABS:
        raise KeyError(f"no lab {number!r}; the labs are {', '.join(LABS)}")
    root = root or labs_dir()
    stem = LABS[number][0]
    return root / "solutions" / f"{stem}.ipynb", root / f"{stem}.ipynb"


def reset(number: str, root: Path | None = None) -> tuple[Path, float]:
    """Put lab ``number``'s notebook back as it was handed out, and forget its cloud."""
    start = time.perf_counter()
    solution, student = paths(number, root)
    nb = student_notebook(json.loads(solution.read_text()))
    student.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    shutil.rmtree(lab_state_dir(number), ignore_errors=True)
    return student, time.perf_counter() - start


def run_and_check(path: Path, timeout: float = 300) -> list[Result]:
    """Execute a notebook (as a student handed it in) and return its checks' results."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="labcloud-check-") as tmp:
        results_file = Path(tmp) / "results.jsonl"
        os.environ[RESULTS_ENV] = str(results_file)
        try:
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}}
            )
            try:
                client.execute()
            except CellExecutionError as exc:
                failed = Result("(notebook)", False, f"a cell raised an error: {str(exc)[:300]}")
                return [*_read(results_file), failed]
        finally:
            os.environ.pop(RESULTS_ENV, None)
        return _read(results_file)


def _read(results_file: Path) -> list[Result]:
    if not results_file.exists():
        return []
    return [Result(**json.loads(line)) for line in results_file.read_text().splitlines()]


def execute(path: Path, timeout: float = 300) -> None:
    """Run a notebook in place and keep its outputs (what nbval compares against), without
    the widgets' saved state, which changes on every run."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    NotebookClient(nb, timeout=timeout, kernel_name="python3").execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]


def build(number: str, root: Path | None = None) -> tuple[Path, Path]:
    """Run the instructor's notebook, write the student's from it, run that too."""
    solution, student = paths(number, root)
    execute(solution)
    reset(number, root)
    execute(student)
    return solution, student
