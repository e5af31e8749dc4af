"""Errors of the hub layer; each message is one line that says what went wrong and what to do."""

from __future__ import annotations


class HubError(RuntimeError):
    """Base class: the CLI prints these as one line without a traceback."""


class DownloadError(HubError):
    """The file could not be fetched (HTTP error, unreachable host, offline mode without a cached copy)."""


class IntegrityError(DownloadError):
    """A downloaded or cached file does not have the expected size or SHA-256; the file was deleted."""


class UnreadableFileError(DownloadError):
    """A file fetched without a SHA-256 is not a complete weights file (truncated, an HTML page); deleted."""


class HashFormatError(HubError, ValueError):
    """A ``sha256=`` value is not a 64-character hex digest (checked before anything is downloaded)."""


class UnsafeCheckpointError(HubError):
    """A checkpoint would need arbitrary unpickling; dbdzoo refuses it without executing anything."""


class CheckpointFormatError(HubError):
    """A file is readable but is not a dbdzoo checkpoint (no tensors, no model config, corrupt header)."""


class WeightsNotFoundError(HubError, KeyError):
    """A registry name or weights tag that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelReferenceError(HubError, ValueError):
    """``load_model`` could not interpret its reference (not a name, file, folder, URL or hub id)."""
