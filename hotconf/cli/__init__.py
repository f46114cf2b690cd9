"""The ``hotconf`` command: ``main(argv) -> int`` runs it, ``run()`` is the console script."""

from .main import cli as cli
from .main import main as main
from .main import run as run
