"""``python -m hotconf``: the same as the ``hotconf`` command."""

from .cli.main import run

run()
