"""Errors a person can act on, and the exit codes the CLI maps them to."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    GATE = 1  # a `check` rule was breached, or `ingest --strict` rejected lines
    USAGE = 2  # bad flag, unreadable file, unknown format, broken price file


class LlmcostError(Exception):
    """A user-facing error: one line saying what is wrong, and a hint saying what to do."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(LlmcostError):
    """A file cannot be read or recognised."""


class PricingError(LlmcostError):
    """A price file is broken."""


class DatabaseBusyError(LlmcostError):
    """Another process holds the database."""


class ConfigError(LlmcostError):
    """llmcost.toml or [tool.llmcost] is broken."""
