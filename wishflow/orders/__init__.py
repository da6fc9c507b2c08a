"""Orders as Wishflow sees them: parsing Wish's payloads at the edge and flattening them into rows."""
