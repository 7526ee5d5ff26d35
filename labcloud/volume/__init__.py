"""Block storage, after OpenStack's cinder: cinder-api (REST ``/v3``), cinder-scheduler and
cinder-volume talking over RPC on the ``cinder`` exchange, with a file-backed driver.
Left out: snapshots, backups, volume types, the v3 attachments API (the older os-* actions
nova used for years are here)."""
