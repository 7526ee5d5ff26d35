"""``POST /servers/{id}/action``: one action per body, each with its own schema, as nova's
``servers.py`` and ``console_output.py`` dispatch them (the console output is an action in
nova too: ``os-getConsoleOutput``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from labcloud.compute import server_actions
from labcloud.compute.api.deps import Ctxt, Frontend, nova_router
from labcloud.compute.frontend import ComputeFrontend
from labcloud.compute.schemas import ConsoleOutput, Reboot, Resize
from labcloud.context import RequestContext
from labcloud.exceptions import Invalid

router = nova_router("/v2.1/servers/{uuid}", "server actions")

Action = Callable[[ComputeFrontend, RequestContext, str, Any], Any]


def _parse(model: type[BaseModel], name: str, args: Any) -> Any:
    try:
        return model.model_validate(args if args is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in (name, *err["loc"]))
        raise Invalid(f"Invalid input for field/attribute {where}. {err['msg']}") from None


def _no_args(method: Callable[[ComputeFrontend, RequestContext, str], None]) -> Action:
    return lambda front, ctxt, uuid, _args: method(front, ctxt, uuid)


def _power(action: str) -> Action:
    return lambda front, ctxt, uuid, _args: server_actions.action(front, ctxt, uuid, action)


def _reboot(front: ComputeFrontend, ctxt: RequestContext, uuid: str, args: Any) -> None:
    server_actions.reboot(front, ctxt, uuid, _parse(Reboot, "reboot", args).type.upper())


def _resize(front: ComputeFrontend, ctxt: RequestContext, uuid: str, args: Any) -> None:
    server_actions.resize(front, ctxt, uuid, _parse(Resize, "resize", args).flavorRef)


def _console(front: ComputeFrontend, ctxt: RequestContext, uuid: str, args: Any) -> Any:
    length = _parse(ConsoleOutput, "os-getConsoleOutput", args).length
    limit = None if length in (None, -1) else length
    output = server_actions.console_output(front, ctxt, uuid, limit)
    return JSONResponse({"output": output}, status_code=200)


ACTIONS: dict[str, Action] = {
    "reboot": _reboot,
    "os-stop": _power("stop"),
    "os-start": _power("start"),
    "suspend": _power("suspend"),
    "resume": _power("resume"),
    "resize": _resize,
    "confirmResize": _no_args(server_actions.confirm_resize),
    "revertResize": _no_args(server_actions.revert_resize),
    "os-getConsoleOutput": _console,
    "lock": lambda front, ctxt, uuid, _args: server_actions.lock(front, ctxt, uuid, locked=True),
    "unlock": lambda front, ctxt, uuid, _args: server_actions.lock(front, ctxt, uuid, locked=False),
}


@router.post("/action", status_code=202)
def action(uuid: str, body: dict[str, Any], ctxt: Ctxt, front: Frontend) -> Any:
    if len(body) != 1:
        raise Invalid("There is not exactly one action in the request body.")
    ((name, args),) = body.items()
    if name not in ACTIONS:
        raise Invalid(f"Action {name[:64]!r} is not supported by labcloud.")
    if args is not None and not isinstance(args, dict):
        raise Invalid(f"Invalid input for field/attribute {name}: must be an object or null.")
    return ACTIONS[name](front, ctxt, uuid, args)
