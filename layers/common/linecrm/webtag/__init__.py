"""The web tag: ``tag.js``, ``POST /events/web`` and visitor ids (docs/web-tag.md)."""
