"""The ``namoid`` command line (Typer): parses, calls services, prints."""
