"""``python -m portal.cli``: the same as the ``idnest`` command."""

from portal.cli import main

main()
