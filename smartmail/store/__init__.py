"""Engine and transactions, models, schema revisions, prepared statements, blobs."""
