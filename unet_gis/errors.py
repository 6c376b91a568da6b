"""Errors whose message is written for the user, not the developer.

Anything raised as :class:`UserError` is shown as a one-line message by the CLI and as a
dialog by the app; everything else is a bug and gets a traceback in the log.
"""


class UserError(Exception):
    """Bad input or a bad request: the message says what was wrong and what to do."""


class Cancelled(Exception):  # noqa: N818 - reads better at the raise site than CancelledError
    """Raised inside long work when the user asked it to stop."""
