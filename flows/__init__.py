"""Prefect flows: each composes tasks/ into one pipeline stage that a deployment can run."""
