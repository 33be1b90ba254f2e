"""Stand-ins for systems idnest talks to but that cannot be reached from a test."""
