"""One virtual host per cloud on a shared RabbitMQ, as a deployer gives each its own.

Two clouds on one vhost share the ``conductor``, ``scheduler`` and ``compute.<host>`` queues and
take each other's messages. So ``labcloud up`` gives a cloud whose URL names no vhost
(``amqp://guest:guest@127.0.0.1:5672/``) its own, ``labcloud-<host>-<hash of its state dir>``,
created through the management API when missing (``PUT /api/vhosts/<vhost>``, then
``PUT /api/permissions/<vhost>/<user>``). A URL that names one (``.../5672//`` is ``/``) is
used as given, unless another cloud's services already consume its queues there.
"""

from __future__ import annotations

import hashlib
import socket
from urllib.parse import quote, urlsplit, urlunsplit

import amqp
import amqp.exceptions
import httpx

from labcloud.messaging.exceptions import MessagingError
from labcloud.messaging.rabbitview import management_url_for, url_parts

SERVICE_QUEUES = ("conductor", "scheduler")  # consumed by exactly one cloud's services


def names_vhost(url: str) -> bool:
    """Does the URL say which vhost? ``host:5672`` and ``host:5672/`` do not; ``host:5672//``
    (``/``) and ``host:5672/lab`` do."""
    return urlsplit(url).path not in ("", "/")


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def cloud_vhost(state_dir: str) -> str:
    """The vhost of the cloud kept in ``state_dir`` on this machine: the same at every ``up``."""
    digest = hashlib.sha1(f"{socket.gethostname()}:{state_dir}".encode()).hexdigest()[:8]
    return f"labcloud-{socket.gethostname()}-{digest}"


def _connect(url: str) -> amqp.Connection:
    host, port, user, password, vhost = url_parts(url)
    conn = amqp.Connection(
        f"{host}:{port}", userid=user, password=password, virtual_host=vhost, connect_timeout=5
    )
    try:
        conn.connect()
    except OSError as exc:
        raise MessagingError(f"no RabbitMQ answers at {host}:{port} ({exc})") from exc
    return conn


def vhost_exists(url: str) -> bool:
    """Can this URL's user open its vhost (it exists, with permissions for the user)?"""
    try:
        _connect(url).close()
    except amqp.exceptions.AMQPError:
        return False
    return True


def ensure_vhost(url: str, *, management_url: str | None = None) -> None:
    """Create the URL's vhost and give its user every permission there, unless it exists."""
    if vhost_exists(url):
        return
    _, _, user, password, vhost = url_parts(url)
    base = (management_url or management_url_for(url)).rstrip("/")
    v, u = quote(vhost, safe=""), quote(user, safe="")
    how = (
        f"create it with `rabbitmqctl add_vhost {vhost}` and `rabbitmqctl set_permissions -p "
        f"{vhost} {user} '.*' '.*' '.*'`, or give a URL that names a vhost"
    )
    try:
        with httpx.Client(auth=(user, password), timeout=10) as http:
            made = http.put(f"{base}/api/vhosts/{v}")
            allowed = http.put(
                f"{base}/api/permissions/{v}/{u}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            )
    except httpx.HTTPError as exc:
        raise MessagingError(
            f"this cloud's virtual host {vhost!r} does not exist, and RabbitMQ's management "
            f"API does not answer at {base} to create it ({exc}): {how}"
        ) from exc
    for answer in (made, allowed):
        if answer.status_code not in (201, 204):
            raise MessagingError(
                f"RabbitMQ's management API at {base} refused to create the virtual host "
                f"{vhost!r} ({answer.status_code}: {answer.text[:200]}): {how}"
            )


def refuse_shared(url: str, queues: tuple[str, ...] = SERVICE_QUEUES) -> None:
    """Raise if another cloud's services already consume these queues on the URL's vhost."""
    vhost = url_parts(url)[4]
    with _connect(url) as conn:
        channel = conn.channel()
        for name in queues:
            try:
                _, _, consumers = channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:  # no such queue; the channel closed
                channel = conn.channel()
                continue
            if consumers:
                raise MessagingError(
                    f"another cloud's services already consume queue {name!r} on virtual host "
                    f"{vhost!r}: two clouds there would take each other's messages. Stop that "
                    "cloud, or leave the vhost out of the URL (amqp://user:pass@host:port/) to "
                    "give this cloud a virtual host of its own"
                )


def cloud_transport_url(url: str, state_dir: str, *, management_url: str | None = None) -> str:
    """The URL a cloud uses: its own vhost (created when missing) unless the URL names one;
    refused when another cloud already serves there."""
    if not names_vhost(url):
        url = with_vhost(url, cloud_vhost(state_dir))
        ensure_vhost(url, management_url=management_url)
    refuse_shared(url)
    return url
