"""Domain operations on identifiers. No HTTP: every door (REST, SNMS, console, wire
protocol, CLI, bulk jobs) calls these."""
