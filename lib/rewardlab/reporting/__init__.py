"""Reporting: claims.json, a notebook's metrics file, figures, SUMMARY.md."""
