"""HTTP doors of the schemes context (thin Litestar handlers): namespaces, codes and
mappings (``codes``), GS1 Digital Link links and item descriptions (``gs1``)."""

from tenants.schemes.api.codes import ROUTES

__all__ = ["ROUTES"]
