"""Errors raised for user mistakes: each names where the problem is and how to fix it."""

from __future__ import annotations


class LoopscapeError(Exception):
    """Base class of every error loopscape raises on purpose (never a bug)."""


class SpecError(LoopscapeError, ValueError):
    """A specification (layer, architecture, mapping, constraints) is malformed.

    ``source`` names the file (or "<memory>"), ``key`` the dotted path inside it,
    ``fix`` says what to do. The CLI prints the message without a traceback.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None,
                 fix: str | None = None):
        self.message = message
        self.source = source
        self.key = key
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.source and self.key:
            where = f"{self.source}: {self.key}: "
        elif self.source:
            where = f"{self.source}: "
        elif self.key:
            where = f"{self.key}: "
        text = where + self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def located(self, source: str | None = None, prefix: str | None = None) -> "SpecError":
        """Return a copy that carries a file name and/or a key prefix."""
        key = self.key
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        return SpecError(self.message, source=source or self.source, key=key, fix=self.fix)


class MappingError(LoopscapeError, ValueError):
    """A mapping is illegal on its architecture (fanout, capacity, factor product...)."""

    def __init__(self, message: str, *, level: str | None = None, tensor: str | None = None):
        self.level = level
        self.tensor = tensor
        super().__init__(message)
