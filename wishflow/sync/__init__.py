"""Incremental sync from Wish: the rules every stream shares and the one engine that runs them.

The shared rules are windows, cursors and flags; the engine is :mod:`wishflow.sync.engine`, and streams
declare endpoint, keyset, cursor field and page recorder.
"""
