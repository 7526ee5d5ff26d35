"""Image, after OpenStack's glance: image records and their data, behind glance's REST API
``/v2``. Left out: image import workflows, tasks, multiple stores, metadata definitions."""
