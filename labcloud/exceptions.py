"""labcloud's own errors, raised in domain code and mapped to HTTP status codes in one place.

Like nova's exceptions, each has a message template filled from keyword arguments, and the
keyword arguments travel with it across RPC, so a caller gets the same class back.
"""

from __future__ import annotations

from typing import Any


class LabCloudError(Exception):
    """Base of every labcloud error; ``code`` is the HTTP status the REST APIs answer with."""

    msg_fmt = "An unknown error occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class NotFound(LabCloudError):
    msg_fmt = "Resource could not be found."
    code = 404


class Invalid(LabCloudError):
    msg_fmt = "Unacceptable parameters."
    code = 400


class Conflict(LabCloudError):
    msg_fmt = "Conflict."
    code = 409


class NoValidHost(LabCloudError):
    msg_fmt = "No valid host was found. %(reason)s"


class UnexpectedVMStateError(Conflict):
    """An update that expected the instance in one state found it in another (nova's
    ``instance.save(expected_vm_state=...)``): a build given up while its host still ran it."""

    msg_fmt = "Unexpected VM state: expecting %(expected)s but the actual state is %(actual)s"


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class IpAddressExhausted(Conflict):
    msg_fmt = "No more IP addresses available on network %(network_id)s."


class Unauthorized(LabCloudError):
    msg_fmt = "The request you have made requires authentication."
    code = 401


class Forbidden(LabCloudError):
    msg_fmt = "You are not authorized to perform the requested action."
    code = 403
