"""labcloud.conf: one configuration file in OpenStack's INI shape, read per project.

    [DEFAULT]                 transport_url, host, state_path, report_interval, ...
    [keystone_authtoken]      where keystone is, and the service project
    [nova:keystone_authtoken] nova's own service user (username, password)
    [nova:database]           nova's database (``connection``), as nova.conf's [database]

A section ``[SECTION]`` holds what every project shares; ``[PROJECT:SECTION]`` is that
project's own ``[SECTION]`` of its OpenStack file (nova.conf, glance-api.conf ...), overriding
the shared one. ``load(path, "nova")`` gives nova's view of the file; ``sample()`` writes a
documented one. labcloud keeps one file where OpenStack keeps one per project.
"""

from labcloud.conf.options import PROJECTS, ServiceConf, load, parse
from labcloud.conf.sample import sample

__all__ = ["PROJECTS", "ServiceConf", "load", "parse", "sample"]
