"""Self-deployed enterprise nodes (自建部署企业节点): a tenant that runs its own Handle service.

A tenant is delegated (委托部署: this node stores and answers its identifiers) unless it has
rows in ``enterprise_servers``; then it is self-deployed and those rows say where its own
servers answer. ``0.NA/{prefix}`` carries their HS_SITE, the wire door refers Handle
clients there, and the HTTP doors resolve recursively (resolver/recursive.py).
docs/enterprise.md has the whole story.
"""
