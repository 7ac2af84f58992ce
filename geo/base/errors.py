"""Error hierarchy, each class with the HTTP status it maps to (one table, used by server.py)."""
from __future__ import annotations

from geo.base.i18n import field_label, lang, t


class ZonesError(Exception):
    """Base error: carries a message key and parameters, rendered in the caller's language."""

    def __init__(self, key: str, **params):
        self.key, self.params = key, params
        super().__init__(self.text())

    def text(self, language: str | None = None) -> str:
        params = dict(self.params)
        if "columns" in params and lang(language) == "vi":      # an importer's columns by their Vietnamese names
            params["columns"] = ", ".join(field_label(c.strip(), language) for c in str(params["columns"]).split(","))
        return t(self.key, language, **params)


class InputError(ZonesError):
    """Bad input file or parameter."""


class MissingInputError(ZonesError):
    """Something the command needs has not been imported yet."""


class NotFoundError(ZonesError):
    """No such run, date, unit or file."""


class BusyError(ZonesError):
    """Another writer holds the lock."""


class AuthError(ZonesError):
    """No valid token where one is needed."""


class ForbiddenError(ZonesError):
    """A valid token whose role may not do this."""


class UnsupportedError(ZonesError):
    """An upload of a type the import does not take."""


class HeldError(ZonesError):
    """The data-quality gate held the run: not published."""


class ConflictError(ZonesError):
    """What is asked would change something that must not change (a boundary version runs use)."""


class ImportFailedError(ZonesError):
    """An import stopped on something unforeseen: nothing was stored, the server log has the details."""


class RateLimitedError(ZonesError):
    """Too many tries from one client without signing in (sign-in attempts, refused writes)."""


class StorageError(ZonesError):
    """The data folder or the store cannot be written (disk full, read-only) or read (damaged)."""


# The one table from error class to HTTP status (first match wins, most specific first).
HTTP_STATUS: tuple[tuple[type[ZonesError], int], ...] = (
    (NotFoundError, 404),
    (InputError, 400),
    (AuthError, 401),
    (ForbiddenError, 403),
    (UnsupportedError, 415),
    (HeldError, 409),
    (ConflictError, 409),
    (MissingInputError, 409),
    (RateLimitedError, 429),
    (BusyError, 503),
    (StorageError, 503),
    (ImportFailedError, 500),
    (ZonesError, 500),
)


def http_status(exc: ZonesError) -> int:
    return next(code for cls, code in HTTP_STATUS if isinstance(exc, cls))
