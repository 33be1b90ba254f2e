"""Plans (the node's price list) and subscriptions (which plan a tenant is on, from when)."""
