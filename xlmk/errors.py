"""Errors a user can act on. Each message names the file, the line or the key at fault."""
from __future__ import annotations

from pathlib import Path


class XlmkError(Exception):
    """Base of every error xlmk raises on purpose; the CLI prints it without a traceback."""


class ConfigError(XlmkError):
    """A recipe or an override is invalid: unknown key, wrong type, unknown kind, missing file."""


class DataError(XlmkError):
    """Input data is malformed or missing. Carries the path and, where known, the line number."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class TrainingError(XlmkError):
    """Training cannot go on (non-finite loss, vocabulary mismatch); the last good checkpoint is kept."""


class XlmkWarning(UserWarning):
    """Something a user should know that does not stop the run (a damaged checkpoint skipped, an empty input)."""
