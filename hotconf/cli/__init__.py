"""The ``hotconf`` command: ``main(argv) -> int`` runs it, ``run()`` is the console script."""

from .group import cli as cli
from .group import main as main
from .group import run as run
