"""``python -m memcore`` runs the command line."""

from memcore.cli import main

main()
