"""Secret files as a layer: one file per key, as Kubernetes Secret volumes and Docker secrets
(``/run/secrets``) lay them out.

A file named ``db__password`` sets ``db.password`` (``__`` nests; each part matches a config
key ignoring case). Its content is the value, as text: never parsed (a password of ``true`` or
``0123`` stays that string), UTF-8, one trailing newline (``\\n`` or ``\\r\\n``) removed. Every
value set here is secret: redacted wherever hotconf shows values, whatever the schema says.

Watching and reading are the directory `FileSource`'s: hidden entries are skipped, so a
Kubernetes volume's ``..data`` symlink swap is followed like a ConfigMap's and read whole.
"""

from __future__ import annotations

import json
import os

from ..errors import LoadError, Problem
from ..pipeline.load import DEFAULT_LIMITS
from . import RawDocument
from .files import FileSource


class SecretsSource(FileSource):
    """A directory of secret files, one per key.

    Args:
        directory: the directory (``/run/secrets``, a Secret volume's mount point).
        max_bytes: larger files are refused.

    Raises:
        SourceError: at the first read, when the directory does not exist.
    """

    may_be_empty = True

    def __init__(
        self, directory: str | os.PathLike[str], *, max_bytes: int = DEFAULT_LIMITS.max_bytes
    ) -> None:
        super().__init__(directory, directory=True, max_bytes=max_bytes, layer="secret")

    def _wanted(self, name: str) -> bool:
        return not name.startswith(".")

    def _document(self, path: str, data: bytes) -> RawDocument:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Never quote the bytes: they are a secret.
            msg = "a secret file holds UTF-8 text; this one does not decode"
            problem = Problem(msg, code="encoding", source=path)
            raise LoadError(f"{path}: {msg}", [problem]) from None
        text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        key = tuple(os.path.basename(path).split("__"))
        return RawDocument(path, json.dumps(text).encode(), "json", "secret", key)


__all__ = ["SecretsSource"]
