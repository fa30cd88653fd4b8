"""``python -m mycarenet_dental`` runs the CLI."""

from .cli.main import main

main()
