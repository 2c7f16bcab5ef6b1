"""Prefect flows: thin chains of the library (ingestion → language → narratives → warehouse) that own retries,
schedules and run records."""

from pmon.flows import settings as _settings  # noqa: F401 - configures Prefect before it is imported
