"""``python -m mppoci``."""

from mppoci.cli.app import main

main()
