"""Pure manifest builders: a validated spec in, Kubernetes objects (plain dicts) out. No I/O here."""
