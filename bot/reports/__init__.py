"""Reports people can forward: workbooks, charts and a self-contained web page."""
