"""Exceptions that the CLI turns into one clean Chinese message and a non-zero exit."""

from __future__ import annotations


class PipelineError(Exception):
    """A problem with the run's own inputs (settings, spec, roster) that stops the command.

    The message is Chinese, names the file and the key or row, and says how to fix it.
    Problems with *returned* files never raise this: they become validation issues.
    """


class SpecError(PipelineError):
    """The form spec (pipeline/forms/*.toml) is malformed."""


class CampaignError(PipelineError):
    """campaign.toml is malformed."""


class RosterError(PipelineError):
    """The unit roster (units.csv / .xlsx) is malformed."""


class NoticeError(PipelineError):
    """A notice that ``init`` cannot turn into a campaign folder (encrypted, scanned, no 附件 table, …)."""
class ReportError(PipelineError):
    """The report upward (``report``) cannot be written: no returns yet, a broken 总结 template, a bad upper form."""
