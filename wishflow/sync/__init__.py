"""Incremental sync from Wish: the rules every stream shares and the one engine that runs them.

Incremental sync from Wish: the rules every stream shares (windows, cursors, flags) and the one
engine that runs them (:mod:`wishflow.sync.engine`; streams declare endpoint, keyset, cursor field
and page recorder).
"""
