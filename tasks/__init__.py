"""Prefect tasks: thin wrappers that call the library (wishflow/) with retries, caching and logging."""
