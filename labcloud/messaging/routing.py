"""Topic routing exactly as RabbitMQ does it.

A routing key and a binding pattern are words separated by dots; in the pattern ``*``
stands for exactly one word and ``#`` for zero or more words. So ``compute.#`` matches
``compute`` itself, which kombu's memory transport gets wrong.

>>> topic_matches("compute.#", "compute"), topic_matches("compute.*", "compute")
(True, False)
>>> topic_matches("*.node1", "compute.node1"), topic_matches("#", "anything.at.all")
(True, True)
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Does a topic binding ``pattern`` take a message with ``routing_key``?"""
    if pattern == routing_key or pattern == "#":
        return True
    return _match(_words(pattern), _words(routing_key))


def _match(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    # Two pointers with backtracking to the last '#', as glob matching does for '*'.
    p = k = 0
    hash_p, hash_k = -1, 0
    while k < len(key):
        if p < len(pattern) and pattern[p] == "#":
            hash_p, hash_k = p, k
            p += 1
        elif p < len(pattern) and pattern[p] in ("*", key[k]):
            p += 1
            k += 1
        elif hash_p >= 0:
            hash_k += 1  # let the last '#' swallow one more word
            p, k = hash_p + 1, hash_k
        else:
            return False
    while p < len(pattern) and pattern[p] == "#":
        p += 1
    return p == len(pattern)
