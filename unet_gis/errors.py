"""Errors whose message is written for the user, not the developer.

Anything raised as :class:`UserError` is shown as a one-line message by the CLI and as a
dialog by the app; everything else is a bug and gets a traceback in the log.
"""


class UserError(Exception):
    """Bad input or a bad request: the message says what was wrong and what to do."""


class Cancelled(Exception):  # noqa: N818 - reads better at the raise site than CancelledError
    """Raised inside long work when the user asked it to stop."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type's name when it has none)."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def root_reason(exc: BaseException) -> str:
    """The most specific first line in ``exc``'s chain of causes.

    rasterio reports a failed read as "Read failed. See previous exception for details.";
    the cause it points to says what GDAL found ("... got 196352 bytes, expected 196608").
    """
    reason = first_line(exc)
    seen: BaseException | None = exc.__cause__
    while seen is not None:
        text = first_line(seen)
        if "See previous exception" not in text:
            reason = text
        seen = seen.__cause__
    return reason
