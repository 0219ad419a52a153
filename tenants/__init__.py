"""Settings (tenants): the registry, host routing, schema binding, provisioning and migrations."""
