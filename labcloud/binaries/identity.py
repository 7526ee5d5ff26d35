"""keystone and glance-api: a REST API each, over the project's own database (in the
in-kernel cloud too: keystone's and glance's databases are theirs alone)."""

from __future__ import annotations

from pathlib import Path

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.conf.options import ServiceConf
from labcloud.identity.api import create_identity_app
from labcloud.identity.manager import IdentityManager
from labcloud.image.api import create_image_app
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore


def keystone(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """keystone: tokens, accounts and the catalog (``labcloud bootstrap`` fills them first)."""
    binary = Binary("keystone", conf, shared=shared)
    manager = IdentityManager(
        conf.database_url,
        key_repository=conf.key_repository,
        token_expiry=conf.token.expiration,
        bcrypt_rounds=conf.identity.password_hash_rounds,
    )
    binary.manager = manager
    binary.release(manager.dispose)
    binary.http(create_identity_app(manager, binary.bus))
    return binary


def image_dir(conf: ServiceConf) -> Path:
    return Path(conf.glance_store.filesystem_store_datadir or conf.DEFAULT.state_path / "images")


def glance_api(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """glance-api: image records in its database, their data in a directory."""
    binary = Binary("glance-api", conf, shared=shared)
    manager = ImageManager(conf.database_url, FileStore(image_dir(conf)))
    binary.manager = manager
    binary.release(manager.db.dispose)
    binary.http(create_image_app(manager, binary.validator()))
    return binary
