"""Exceptions of nlbtut.

Every error the package raises on bad input derives from :class:`NLBTutError`
and from the built-in type a user would expect (``ValueError``,
``FileNotFoundError``, ...), so ``except ValueError`` keeps working in code
written for ``nlb_tools``. The command line prints their message without a
traceback.
"""

from __future__ import annotations

__all__ = [
    "NLBTutError",
    "DataError",
    "DataFileNotFoundError",
    "DownloadError",
    "SubmissionError",
    "ConfigError",
]


class NLBTutError(Exception):
    """Base class of every error nlbtut raises on purpose."""


class DataError(NLBTutError, ValueError):
    """An NWB file, tensor or argument is not what the NLB pipeline expects."""


class DataFileNotFoundError(NLBTutError, FileNotFoundError):
    """A data file or folder does not exist, or holds no matching NWB file."""


class DownloadError(NLBTutError, RuntimeError):
    """Downloading from DANDI failed (offline, archive down, bad checksum)."""


class SubmissionError(NLBTutError, ValueError):
    """A submission is malformed. ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ConfigError(NLBTutError, ValueError):
    """An LFADS / AutoLFADS configuration value is invalid."""
