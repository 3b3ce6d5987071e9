"""The edge gateway: the one public entry point; `/api/*` and `/classify/*` go to WAS,
everything else to web."""
