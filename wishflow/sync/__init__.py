"""Incremental sync from Wish: the rules every stream shares (windows, cursors, flags)."""
