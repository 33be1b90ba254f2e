"""Shared kernel: settings, database, identifier and value model, auth primitives,
cache, task broker, errors, audit log. ``core`` imports none of the other packages."""
