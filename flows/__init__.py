"""Prefect flows: each composes tasks/ into one pipeline stage that a deployment can run.

Importing any flow installs :mod:`flows.heartbeats` (flow runs end when their work does, not on the
next whole second).
"""

from flows.heartbeats import install as _install_heartbeats

_install_heartbeats()
