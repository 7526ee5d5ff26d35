"""keystone and glance-api: a REST API each, over the project's own database."""

from __future__ import annotations

from pathlib import Path

from labcloud.binaries.base import Binary, validator
from labcloud.conf.options import ServiceConf
from labcloud.identity.api import create_identity_app
from labcloud.identity.manager import IdentityManager
from labcloud.image.api import create_image_app
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore


def keystone(conf: ServiceConf) -> Binary:
    """keystone: tokens, accounts and the catalog (``labcloud bootstrap`` fills them first)."""
    binary = Binary("keystone", conf)
    manager = IdentityManager(
        conf.database_url,
        key_repository=conf.key_repository,
        token_expiry=conf.token.expiration,
    )
    binary.part(lambda: None, manager.dispose)  # parts stop in reverse: HTTP first
    binary.http(create_identity_app(manager, binary.bus))
    return binary


def image_dir(conf: ServiceConf) -> Path:
    return Path(conf.glance_store.filesystem_store_datadir or conf.DEFAULT.state_path / "images")


def glance_api(conf: ServiceConf) -> Binary:
    """glance-api: image records in its database, their data in a directory."""
    binary = Binary("glance-api", conf)
    manager = ImageManager(conf.database_url, FileStore(image_dir(conf)))
    binary.part(lambda: None, manager.db.dispose)
    binary.http(create_image_app(manager, validator(conf, binary.name, binary.bus)))
    return binary
