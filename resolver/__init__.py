"""The read path: HTTP resolution, the Handle wire protocol, the resolution cache and
counters. Never imports ``portal`` or ``billing``."""
