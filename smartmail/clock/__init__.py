"""The scheduler's passes, reports and the report's chart."""
