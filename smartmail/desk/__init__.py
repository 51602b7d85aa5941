"""The case domain: cases (the only writer), commands, steering, queries, views, notify, sla."""
