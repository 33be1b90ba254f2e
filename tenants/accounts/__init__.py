"""Accounts: the tenant (企业节点) itself, its users and memberships, and its API keys."""
