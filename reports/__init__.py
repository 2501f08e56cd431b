"""Reports people read: a self-contained HTML file and a Markdown twin per run."""
