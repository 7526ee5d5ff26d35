"""``check()``: one exercise's verdict, printed for the student and recorded for the instructor."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_ENV = "LABCLOUD_LAB_RESULTS"
_results: list[Result] = []


@dataclass(frozen=True)
class Result:
    exercise: str
    passed: bool
    hint: str


_NO_ANSWER = object()


def check(
    exercise: str,
    passed: object,
    hint: str,
    *,
    answer: Any = _NO_ANSWER,
    wrong: Mapping[Any, str] | None = None,
) -> None:
    """Say whether exercise ``exercise`` is done; ``hint`` is shown when it is not.

    ``passed`` may be anything: an exception while computing it counts as "not yet", so
    write ``check("01.2", lambda: ..., hint)`` to have it evaluated here (and there, run the
    student's function on a second state of the cloud, so a typed constant cannot pass).
    ``wrong`` maps a likely wrong ``answer`` to the hint it deserves (the seed's
    "nova-scheduler" for 04.2 gets a hint about the conductor); any other wrong answer
    gets ``hint``. A blank answer (``...``) gets ``hint``. ``answer`` may be a function
    too, called here only when the check fails (what the student's function gave on each
    cloud state, say); if it raises, the answer gets ``hint``.
    """
    try:
        ok = bool(passed() if callable(passed) else passed)
    except Exception as exc:  # a blank answer (...) or a typo is "not yet", not a crash
        ok = False
        if "ellipsis" not in str(exc):  # a blank answer needs no traceback, only the hint
            hint = f"{hint} (checking raised {type(exc).__name__}: {exc})"
    if not ok and wrong and answer is not _NO_ANSWER:
        # an answer that raises, or cannot be a key (a list), has no hint of its own
        with contextlib.suppress(Exception):
            hint = wrong.get(answer() if callable(answer) else answer, hint)
    result = Result(exercise, ok, "" if ok else hint)
    _results.append(result)
    print(f"✓ {exercise} passed" if ok else f"✗ {exercise} not yet: {hint}")
    target = os.environ.get(RESULTS_ENV)
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps(asdict(result)) + "\n")


def results() -> list[Result]:
    """The checks run in this kernel so far."""
    return list(_results)


def compare(prediction: Any, observed: Any, why: str = "") -> None:
    """Predict, then observe: say how the student's prediction (written before running the
    cell that shows what really happens) compares with what happened. Not graded."""
    if prediction is Ellipsis:
        print("No prediction yet: write yours in the cell above first, then run both again.")
    elif prediction == observed:
        print(f"You predicted {prediction!r} and saw {observed!r}: right. {why}".rstrip())
    else:
        print(f"You predicted {prediction!r} but saw {observed!r}. {why}".rstrip())
