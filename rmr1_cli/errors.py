"""One error family for everything a user can get wrong.

The CLI turns any ``Rmr1Error`` into one red line and exit code 2, so every message must say what
failed, where (file, row, key) and, when it is not obvious, how to fix it.
"""


class Rmr1Error(Exception):
    """Base of the errors rmr1 reports to the user without a traceback."""


class ConfigError(Rmr1Error):
    """A recipe or an override is wrong (unknown key, bad type, impossible combination)."""


class DataError(Rmr1Error):
    """An input file is missing, unreadable or does not match the expected schema."""


class ModelError(Rmr1Error):
    """A model or tokenizer cannot be loaded or lacks something rmr1 needs (e.g. a chat template)."""


class GenerationError(Rmr1Error):
    """A generation backend failed in a way retries could not fix (server down, bad response)."""
