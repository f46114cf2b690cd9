"""``python -m hotconf``: the same as the ``hotconf`` command."""

from .cli import run

run()
