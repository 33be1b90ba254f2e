"""Enterprise nodes (企业节点) as tenants: lifecycle, members, API keys, registration."""
