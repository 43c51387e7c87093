"""The one error family of sastc.

Every failure a user can cause (a bad option, a broken file, a model the
target cannot express) raises a subclass of :class:`SastcError` whose message
says what was wrong and what was expected. The CLI turns these into a one-line
message and exit code 2 in a single place (``sastc.cli``); everything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class SastcError(Exception):
    """Base class: the message is written for the user."""


class ConfigError(SastcError):
    """An option, architecture spec or configuration value is invalid."""


class DataError(SastcError):
    """A dataset, data directory or event file cannot be used."""


class CheckpointError(SastcError):
    """A file is not a readable sastc checkpoint or build."""


class TrainingDiverged(SastcError):
    """The loss became non-finite; the last good checkpoint is kept."""


class CompileError(SastcError):
    """The compiler cannot express, quantize or emit the model for the target."""


class TargetError(CompileError):
    """A target, profile or board description is unknown or invalid."""


class InterchangeError(SastcError):
    """A NIR or ONNX file is malformed or uses something sastc cannot read."""


class GraphError(CompileError):
    """A graph node or edge is invalid (wrong shape, bad parameter, unsupported wiring)."""
