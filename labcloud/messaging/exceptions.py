"""Errors of the messaging layer, named as oslo.messaging names them."""

from __future__ import annotations

from labcloud.exceptions import LabCloudError


class MessagingError(LabCloudError):
    msg_fmt = "Messaging error."


class MessagingTimeout(MessagingError):
    msg_fmt = "Timed out waiting for a reply to message ID %(msg_id)s after %(timeout)s s."


class MessageDeliveryFailure(MessagingError):
    msg_fmt = "Could not deliver message: %(reason)s"


class MessageUndeliverable(MessageDeliveryFailure):
    """The broker had no queue for the message (published with ``mandatory``)."""

    msg_fmt = "No queue is bound to exchange '%(exchange)s' with routing key '%(routing_key)s'."


class ConnectionLost(MessagingError):
    """An ack or reject on a connection the broker has dropped (the message goes back)."""

    msg_fmt = "The connection to the broker was lost: %(reason)s"


class ExchangeNotFound(MessageDeliveryFailure):
    msg_fmt = "Exchange '%(exchange)s' does not exist."


class PreconditionFailed(MessagingError):
    """A declare whose flags differ from the existing entity's (RabbitMQ's 406)."""

    msg_fmt = "%(what)s '%(name)s' exists with different flags: %(detail)s"


class NoSuchMethod(MessagingError):
    msg_fmt = "No endpoint on topic '%(topic)s' has a method '%(method)s'."


class InvalidMessage(MessagingError):
    msg_fmt = "Malformed or foreign message: %(reason)s"


class InvalidTransportURL(MessagingError):
    msg_fmt = "Invalid transport URL '%(url)s': %(reason)s"


class RemoteError(MessagingError):
    """An exception raised by the remote method, whose class is not one of labcloud's."""

    msg_fmt = "Remote error: %(exc_type)s %(value)s"

    def __init__(
        self, exc_type: str = "", value: str = "", traceback: str = "", message: str | None = None
    ) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        super().__init__(message, exc_type=exc_type, value=value)
