"""A tenant's usage of a month, priced by its plans; the registration quota guard."""
