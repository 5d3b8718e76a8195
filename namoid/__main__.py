"""``python -m namoid`` is the ``namoid`` command."""

from namoid.cli.main import main

main()
