"""One module per section of the report, each with one function that turns
the gathered rows (``reports.gather``) into that section's model
(``reports.model``); ``reports.render.build`` calls them in page order."""
