"""Machine clients: a tenant's OAuth2 clients (client credentials) and the node's token
signing keys. Tokens are short-lived ES256 JWTs that work wherever an API key works."""
