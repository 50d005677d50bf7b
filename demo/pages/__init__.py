"""Page templates and static assets of the demo sites, as Python strings."""
