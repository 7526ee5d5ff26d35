"""A minimal Debug Adapter Protocol client: enough to attach to debugpy, set a breakpoint,
wait for a thread to stop there and let it go (what VS Code does when it attaches)."""

from __future__ import annotations

import json
import socket
from typing import Any


class DapClient:
    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            self._fill()
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        return message

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the debug adapter closed the connection")
        self.buffer += chunk

    def wait(self, *, response_to: int | None = None, event: str | None = None) -> dict[str, Any]:
        """The response to request ``response_to``, or the next ``event`` (events seen on the
        way are kept in ``self.events``)."""
        for seen in list(self.events):
            if event and seen.get("event") == event:
                self.events.remove(seen)
                return seen
        while True:
            message = self._read()
            if message["type"] == "response" and message.get("request_seq") == response_to:
                return message
            if message["type"] == "event":
                if event and message["event"] == event:
                    return message
                self.events.append(message)

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        reply = self.wait(response_to=self.send(command, **arguments))
        assert reply["success"], reply
        return reply

    def close(self) -> None:
        self.sock.close()
