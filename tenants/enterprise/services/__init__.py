"""Services of self-deployed enterprise nodes."""
