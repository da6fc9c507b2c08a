"""Wishflow's Prefect-free library.

The Wish API client, the warehouse, validation, shipping rules, tracking normalisation and the Wish
API sandbox.

Nothing under this package imports Prefect; the Prefect layer (``flows/``, ``tasks/``, ``blocks/``)
imports it, never the other way round.
"""

__version__ = "0.1.0"
