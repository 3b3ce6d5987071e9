"""The browser UI: server-rendered pages (jinja2) with progressive JavaScript."""
