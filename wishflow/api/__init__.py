"""Wish Merchant API v3: the HTTP client, its error table, OAuth tokens and their persistence."""
