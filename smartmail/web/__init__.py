"""The fault-report page and the pages to follow a case: aiohttp in the daemon's loop."""
