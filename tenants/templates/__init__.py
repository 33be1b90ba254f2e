"""Metadata templates (标识模板): the node's core and industry templates, tenants' own
extensions, item validation and sync from the top-level node."""
