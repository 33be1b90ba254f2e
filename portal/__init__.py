"""The web: Jinja2 pages for signup, the tenant console, the staff console and finance.

``portal`` is also the composition root: ``portal.app`` assembles every package's
routes into one application and ``portal.cli`` is the ``idnest`` command.
"""
