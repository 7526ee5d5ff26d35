"""Drive schemathesis over one API from the OpenAPI document it publishes, and collect what
a test must never see: a 5xx answer, or no answer at all (a hang, a dropped connection)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

TIMEOUT = 20.0  # s: an answer slower than this is a hang
IMAGE_PATCH = "application/openstack-images-v2.1-json-patch"


class ShortTraceback(logging.Formatter):
    """A traceback's labcloud frames and its last line: where the service failed."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        lines = super().formatException(ei).splitlines()
        kept = [
            line + "\n" + (lines[i + 1] if i + 1 < len(lines) else "")
            for i, line in enumerate(lines)
            if "/labcloud/" in line and "/labcloud/rest/" not in line
        ]
        return "\n".join([*kept, lines[-1]])


@dataclass(frozen=True)
class Finding:
    method: str
    path: str
    request: str
    answer: str
    traceback: str

    def __str__(self) -> str:
        return (
            f"{self.method} {self.path}: {self.answer}\n  request: {self.request}\n{self.traceback}"
        )


class ServerLog(logging.Handler):
    """The errors labcloud's services log (with their tracebacks) while a case runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(ShortTraceback("  %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def take(self) -> str:
        text, self.lines = "\n".join(self.lines), []
        return text

    def __enter__(self) -> ServerLog:
        logging.getLogger("labcloud").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("labcloud").removeHandler(self)


def operations(url: str) -> list[Any]:
    """Every operation of the API's OpenAPI document (``/openapi.json``, FastAPI's)."""
    # glance's image PATCH body is JSON under its own media type
    schemathesis.serializer.alias(IMAGE_PATCH, "application/json")
    document = httpx.get(url + "/openapi.json", timeout=TIMEOUT).json()
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


def describe(case: Any) -> str:
    parts = [f"path={case.path_parameters}"] if case.path_parameters else []
    parts += [f"{k}={getattr(case, k)!r}" for k in ("query", "headers") if getattr(case, k)]
    body = repr(case.body)
    parts.append(f"body={body[:300]}{'...' if len(body) > 300 else ''}")
    if case.media_type:
        parts.append(f"media_type={case.media_type}")
    return " ".join(parts)


def fuzz(
    operation: Any,
    base_url: str,
    token: str,
    *,
    examples: int,
    statuses: Counter[int],
    path_parameters: dict[str, str] | None = None,
) -> list[Finding]:
    """Send ``examples`` valid and ``examples`` invalid requests (deterministic: the same
    ones on every run) for ``operation``; return what went wrong, count the answers'
    ``statuses``."""
    found: list[Finding] = []
    session = requests.Session()  # one keep-alive connection, as a real client has

    def check(case: Any, log: ServerLog) -> None:
        try:
            answer = case.call(
                base_url=base_url, session=session, headers={"X-Auth-Token": token}, timeout=TIMEOUT
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            what = f"no answer: {type(exc).__name__}: {exc}"
        except requests.RequestException:  # the client could not send it (a bad header)
            statuses[0] += 1
            return
        else:
            statuses[answer.status_code] += 1
            if answer.status_code < 500:
                log.take()
                return
            what = f"{answer.status_code} {answer.text[:300]}"
        found.append(
            Finding(operation.method.upper(), operation.path, describe(case), what, log.take())
        )

    with ServerLog() as log:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                check(case, log)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                if mode is GenerationMode.POSITIVE:
                    raise
    session.close()
    return found


def summary(found: list[Finding]) -> str:
    """The findings grouped by route and answer: how many, one request, its traceback."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in found:
        groups.setdefault((f.method, f.path, f.answer[:120]), []).append(f)
    return "\n\n".join(f"{len(fs)} x {fs[0]}" for fs in groups.values())
