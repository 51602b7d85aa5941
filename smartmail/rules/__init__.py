"""The admin's file: model and routing, loading per section, YAML lines, rule book, explain."""
