"""The ``wishflow`` command line; it sits above the library and the Prefect layer and may use both."""
