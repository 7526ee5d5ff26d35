"""labcloud: a small, real cloud in the shape of OpenStack, built to be watched in JupyterLab.

Map of the package (each OpenStack project is one folder):

- ``messaging``: oslo.messaging-shaped RPC (call, cast, fanout) over RabbitMQ or an
  in-process broker with RabbitMQ's routing, plus a view of exchanges, queues and bindings.
- ``trace``: the trace bus every message, HTTP call and state change passes through.
- ``context``: the request context that travels with every RPC message.
- ``exceptions``: labcloud's own errors; they cross RPC and come back as themselves.
"""

__version__ = "0.1.0"
