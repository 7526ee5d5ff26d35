"""check(): hints that depend on the wrong answer; student notebooks store no verdicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labcloud.lab import build
from labcloud.lab.checks import check, compare, results

CONDUCTOR = "the conductor casts it: today's nova put nova-conductor between them"


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("nova-scheduler", CONDUCTOR),  # the seed's answer gets its own hint
        ("nova-api", "look at step 12"),  # any other wrong answer, the general one
        (["a", "list"], "look at step 12"),  # an answer that cannot be a key
        (..., "look at step 12"),  # a blank
    ],
)
def test_a_wrong_answer_gets_the_hint_it_deserves(
    answer: object, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    check(
        "04.2",
        answer == "nova-conductor",
        "look at step 12",
        answer=answer,
        wrong={"nova-scheduler": CONDUCTOR},
    )
    assert results()[-1].hint == hint
    assert capsys.readouterr().out == f"✗ 04.2 not yet: {hint}\n"


def test_a_right_answer_passes_whatever_the_hints() -> None:
    check("04.2", True, "look", answer="nova-conductor", wrong={"nova-scheduler": "no"})
    assert results()[-1].passed
    assert results()[-1].hint == ""


TYPED = "your function gives 2 for both servers: read the number from the one it is given"


def _ellipsis(server: object) -> object:
    answer: Any = ...  # a blank answer, as a student leaves it
    return int(answer)


@pytest.mark.parametrize(
    ("considered", "hint"),
    [
        (lambda server: 2, TYPED),  # a typed constant, re-run on a second cloud state
        (lambda server: str(server), "read the fault"),  # any other wrong function
        (_ellipsis, "read the fault"),  # a blank: the answer raises, no hint of its own
    ],
)
def test_a_function_answer_is_run_on_each_state_and_gets_its_own_hint(
    considered: Callable[[int], object], hint: str
) -> None:
    def gave() -> tuple[object, ...]:
        return (considered(2), considered(1))

    check("04.3", lambda: gave() == (2, 1), "read the fault", answer=gave, wrong={(2, 2): TYPED})
    assert results()[-1].hint.startswith(hint)
    assert not results()[-1].passed


def test_a_student_notebook_tags_its_exercise_cells_so_no_verdict_is_stored() -> None:
    solution = {
        "metadata": {},
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": "print(1)"},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "✓ 1 passed"}],
                "source": "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\ncheck('1', x == 1, 'h')",
            },
        ],
    }
    plain, exercise = build.student_notebook(solution)["cells"]
    assert "tags" not in plain["metadata"]
    assert exercise["metadata"]["tags"] == [build.EXERCISE_TAG, build.IGNORE_OUTPUT]
    assert exercise["outputs"] == []
    # laid out as nbformat and ruff write it: lines, no final newline in a code cell
    assert exercise["source"] == ["x = ...  # your answer\n", "check('1', x == 1, 'h')"]
    assert plain["source"] == ["print(1)"]


@pytest.mark.parametrize(
    ("prediction", "says"),
    [
        (..., "No prediction yet"),
        (2, "You predicted 2 and saw 2: right."),
        (1, "You predicted 1 but saw 2."),
    ],
)
def test_a_prediction_is_compared_with_what_happened(
    prediction: object, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    compare(prediction, 2)
    assert capsys.readouterr().out.startswith(says)
