"""Documentation generated from the code: the warehouse data dictionary and the analysts' queries."""

from wishflow.docs.dictionary import render_dictionary, write_dictionary
from wishflow.docs.queries import EXAMPLES, VIEWS

__all__ = ["EXAMPLES", "VIEWS", "render_dictionary", "write_dictionary"]
