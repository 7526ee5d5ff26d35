"""``labcloud token setup|rotate|list``: keystone-manage's fernet_setup and fernet_rotate.

The repository is the running cloud's (``<state dir>/data/fernet-keys``, where ``labcloud
up`` keeps it) unless ``--key-repository`` names another. A running keystone notices a
rotation by itself: tokens issued before it still validate (their key is now a secondary)
until ``max_active_keys`` rotations have passed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # cryptography is imported when a command runs, not to build the parser
    from labcloud.identity.fernet import KeyRepository


def _repository(args: argparse.Namespace) -> KeyRepository:
    from labcloud.identity.fernet import MAX_ACTIVE_KEYS, KeyRepository

    path = Path(args.key_repository or Path(args.state_dir) / "data" / "fernet-keys")
    return KeyRepository(path, max_active_keys=args.max_active_keys or MAX_ACTIVE_KEYS)


def describe(keys: KeyRepository) -> list[str]:
    indexes = keys.indexes()
    primary = max(indexes, default=0)
    kinds = {0: "staged", primary: "primary"}
    return [f"{i}: {kinds.get(i, 'secondary')}" for i in reversed(indexes)]


def run(args: argparse.Namespace) -> int:
    keys = _repository(args)
    if args.action == "setup":
        made = keys.setup()
        print(f"{'made' if made else 'already set up'}: {keys.path}")
    elif args.action == "rotate":
        if not keys.indexes():
            print(f"no keys in {keys.path}: run `labcloud token setup` (or `labcloud up`) first")
            return 1
        primary, purged = keys.rotate()
        gone = ", ".join(map(str, purged)) or "none"
        print(f"rotated {keys.path}: key {primary} is the primary; purged: {gone}")
    if not keys.indexes():
        print(f"no keys in {keys.path}")
        return 1
    for line in describe(keys):
        print(f"    {line}")
    return 0


def add_parser(sub: Any) -> None:
    t = sub.add_parser(
        "token",
        help="keystone's Fernet keys: setup, rotate (keystone-manage fernet_rotate), list",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("action", choices=["setup", "rotate", "list"])
    t.add_argument("--key-repository", default=None, help="default: <state dir>/data/fernet-keys")
    t.add_argument(
        "--max-active-keys",
        type=int,
        default=None,
        help="keys kept after a rotation (default: keystone's 3)",
    )
    t.set_defaults(func=run)
