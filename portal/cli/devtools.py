"""Development tools: stand-ins for systems the node talks to but a laptop cannot reach."""

from __future__ import annotations

import json

import click

from portal.cli import main


@main.group(help="Development tools (stand-ins for external systems).")
def devtools() -> None:
    pass


@devtools.command(help="Run a fake national top-level node (docs/upstream.md).")
@click.option("--port", default=0, type=int, help="port (default: a free one, printed)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--templates", "templates_file", type=click.Path(exists=True, dir_okay=False),
              help="a JSON list of SNMS v5 templates to serve")  # fmt: skip
@click.option("--store", type=click.Path(dir_okay=False),
              help="append every event received (once per eventId) to this JSONL file")  # fmt: skip
@click.option("--username", default=None, help="require this SNMS login for templates")
@click.option("--password", default="", help="the login's password")
def toplevel(port: int, host: str, templates_file: str | None, store: str | None,
             username: str | None, password: str) -> None:  # fmt: skip
    from portal.devtools.toplevel import FakeTopLevelNode

    node = FakeTopLevelNode(username=username, password=password, host=host, port=port,
                            store=store)  # fmt: skip
    if templates_file:
        with open(templates_file, encoding="utf-8") as f:
            node.templates = json.load(f)
    node.start()
    click.echo(f"fake top-level node on {node.url} (control: {node.url}/_devtools/)", err=True)
    click.echo(node.url)
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        node.stop()
