"""``labcloud lab``: the instructor's commands (list, reset, check, build)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labcloud.lab import build as labs
from labcloud.lab import grading
from labcloud.lab.labs import LABS, UnknownLab

USAGE = "labcloud lab list | reset NN... | check PATH... | build [NN...]"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lb = sub.add_parser(
        "lab",
        help="instructor commands: list the labs, reset one, grade students' notebooks",
        description="list: the labs. reset NN: put lab NN's notebook back as handed out "
        "(the student's copy is kept in labs/backups/) and forget its cloud. check PATH...: "
        "run notebooks, or every lab notebook in a folder of handed-in work, and grade each "
        "exercise (a table of students × exercises; --csv writes it for a gradebook). "
        "build [NN]: (for lab authors) run labs/solutions/NN-*.ipynb, write the student "
        "version labs/NN-*.ipynb from it and run that, keeping outputs for nbval.",
        epilog="examples:\n  labcloud lab list\n  labcloud lab reset 04\n"
        "  labcloud lab check labs/04-boot-flow.ipynb\n"
        "  labcloud lab check handed-in/ --csv grades.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lb.add_argument("action", choices=["list", "reset", "check", "build"])
    lb.add_argument("what", nargs="*", help="labs (reset, build) or notebooks/folders (check)")
    lb.add_argument("--labs-dir", default=None, help="default: the checkout's labs/")
    lb.add_argument("--csv", default=None, help="check: also write the table to this CSV file")
    lb.add_argument("--no-backup", action="store_true", help="reset: keep no copy")
    lb.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    root = Path(args.labs_dir) if args.labs_dir else None
    try:
        if args.action == "list":
            return _list(root)
        if args.action == "reset":
            return _reset(args.what, root, backup=not args.no_backup)
        if args.action == "build":
            return _build(args.what, root)
        if args.action == "check":
            return _check(args.what, Path(args.csv) if args.csv else None)
    except UnknownLab as exc:
        print(exc, file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2


def _list(root: Path | None) -> int:
    for number, (_, title) in LABS.items():
        _, student = labs.paths(number, root)
        there = "" if student.exists() else "  (not written yet)"
        print(f"{number:6} {title:18} {student.name}{there}")
    return 0


def _reset(what: list[str], root: Path | None, *, backup: bool) -> int:
    if not what:
        print("say which lab: labcloud lab reset 04 (`labcloud lab list` lists them)")
        return 2
    for name in what:
        done = labs.reset(name, root, backup=backup)
        print(f"reset {done.notebook} in {done.seconds:.2f} s")
        if done.backup:
            print(f"  the notebook as it was is kept in {done.backup}")
        if done.forgotten:
            print(f"  forgot {done.forgotten} stopped cloud(s) of this lab")
    return 0


def _build(what: list[str], root: Path | None) -> int:
    for number in what or list(LABS):
        solution, student = labs.paths(number, root)
        if not solution.exists():
            continue
        labs.build(number, root)
        print(f"ran {solution} and wrote and ran {student}")
    return 0


def _check(what: list[str], csv_path: Path | None) -> int:
    if not what:
        print("say what to check: a notebook, or a folder of handed-in notebooks")
        return 2
    graded: list[grading.Graded] = []
    for name in what:
        path = Path(name)
        if path.is_dir():
            found = grading.grade(path, labs.run_and_check, progress=print)
            if not found:
                print(f"no lab notebook in {path}")
            graded += found
        elif path.exists():
            print(f"running {path}")
            student = path.parent.name if path.parent.name else path.stem
            lab = grading.lab_of(path.stem) or "?"
            graded.append(grading.Graded(student, lab, path, labs.run_and_check(path)))
        else:
            print(f"{path}: no such file or folder", file=sys.stderr)
            return 2
    print()
    print(grading.render(graded))
    if csv_path:
        grading.write_csv(graded, csv_path)
        print(f"\nwrote {csv_path}")
    failed = [g for g in graded if not g.results or g.errors]
    failed += [g for g in graded if any(not r.passed for r in g.exercises.values())]
    return 1 if failed else 0
