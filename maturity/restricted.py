"""Restricted values: what may never leave the restricted quarantine files.

The registry, Prefect's artifacts and events, logs and error messages carry a quarantined cell's column,
reason and row number, never its value; identity columns (respondent_email, ip_address, user_agent, any
column with "name" in it) and raw response ids are not even in the quarantine; a database URL is shown
with its password masked, whatever characters the password holds.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote

from maturity.settings import load_settings

MASK = "***"
WITHHELD = "[withheld]"
# Columns whose raw value identifies a respondent or a response: shown in no preview.
ID_COLUMNS = ("response_id", "respondent_id")
# Values that identify a person or a device wherever they land in a row whose cells are shifted.
_IDENTIFYING_VALUE = re.compile(
    r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"  # an email address
    r"|\b\d{1,3}(?:\.\d{1,3}){3}\b"  # an IPv4 address
    r"|\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b|[0-9a-f:]*::[0-9a-f:]+"  # an IPv6 address
    r"|\b(?:Mozilla|AppleWebKit|Chrome|Safari|Gecko|Opera|Edg)/\S*",  # a browser's user agent
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>.*)$", re.DOTALL)
# What may follow the "@" that ends the credentials: a host (or [IPv6]), an optional port, then the path.
_AFTER_CREDENTIALS = re.compile(r"^(?:\[[^\]]*\]|[^/?#@:\[\]]*)(?::\d*)?(?:[/?#]|$)")
_SECRET_QUERY = re.compile(r"([?&](?:password|passwd|pwd|secret|token|sslpassword)=)([^&#]*)", re.IGNORECASE)


def is_identity_column(column: str) -> bool:
    """A column that identifies a respondent and must never be stored (config/method.yaml): one listed, or
    one whose name holds a listed fragment anywhere ("FirstName", "Surname", "Username", "Email")."""
    rules = load_settings().responses
    folded = fold_column_name(column)
    if column in rules.identity_columns or folded in {fold_column_name(c) for c in rules.identity_columns}:
        return True
    return any(pattern in folded for pattern in rules.identity_column_patterns)


def fold_column_name(column: str) -> str:
    """A column name as identity patterns are matched: NFKC, no accents, lower case, letters and digits only
    ("Ffôn" -> "ffon", "Cod post" -> "codpost", full-width "EMAIL" -> "email", "NI number" -> "ninumber")."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", column).casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _split_credentials(url: str) -> tuple[str, str | None, str | None, str] | None:
    """(scheme, user, password, rest after the credentials), or None when the URL has no scheme.

    The credentials end at the last "@" that a host can follow, so a password may hold "@", ":" or "/"
    (SQLAlchemy's parser ends it at the first "@" and shows the rest as the host).
    """
    match = _SCHEME.match(url)
    if not match:
        return None
    scheme, rest = match["scheme"], match["rest"]
    ends = [i for i, ch in enumerate(rest) if ch == "@" and _AFTER_CREDENTIALS.match(rest[i + 1 :])]
    if rest.startswith("/") or not ends:
        return scheme, None, None, rest
    credentials, after = rest[: ends[-1]], rest[ends[-1] + 1 :]
    user, colon, password = credentials.partition(":")
    return scheme, user, password if colon else None, after


def mask_url(url: str) -> str:
    """A database URL with its password (and any secret query value) replaced by ***.

    Gives what sqlalchemy's make_url(url).render_as_string(hide_password=True) gives for a well-formed
    URL; one that does not parse is masked entirely after the scheme.
    """
    parts = _split_credentials(url)
    if parts is None:
        return MASK
    scheme, user, password, rest = parts
    if user is None and not rest.startswith("/") and not _AFTER_CREDENTIALS.match(rest):
        return f"{scheme}://{MASK}"  # no host we can tell from credentials: mask everything
    rest = _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, rest)
    if user is None:
        return f"{scheme}://{rest}"
    return f"{scheme}://{user}{':' + MASK if password is not None else ''}@{rest}"


def quote_credentials(url: str) -> str:
    """The URL with its password percent-encoded, so SQLAlchemy reads the password the user wrote even
    when it holds "@", ":" or "/" (an already-encoded password is left as it is)."""
    parts = _split_credentials(url)
    if parts is None or parts[2] is None:
        return url
    scheme, user, password, rest = parts
    return f"{scheme}://{user}:{quote(unquote(password), safe='')}@{rest}"


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: its password and each piece of it, and secret query values; all of a
    URL that does not parse (everything after the scheme)."""
    parts = _split_credentials(url)
    if parts is None:
        return _pieces(url)
    scheme, user, password, rest = parts
    if user is None and not rest.startswith("/") and not _AFTER_CREDENTIALS.match(rest):
        return _pieces(url[len(scheme) + 3 :])
    secrets = [m.group(2) for m in _SECRET_QUERY.finditer(rest)]
    if password:
        secrets += _pieces(password) + _pieces(unquote(password))
    return sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)


def _pieces(secret: str) -> list[str]:
    """A secret and each piece of it between "@", ":", "/" or spaces (a parser may show any piece)."""
    return sorted({p for p in [secret, *re.split(r"[@:/\s]+", secret)] if len(p) >= 3}, key=len, reverse=True)


def scrub_secrets(text: str, url: str) -> str:
    """A message with the URL and every secret part of it replaced (for errors that quote the driver)."""
    text = text.replace(url, mask_url(url))
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text


def preview_row(cells: list[str | None], names: list[str]) -> str:
    """A malformed row for the restricted quarantine: cells beyond the header first, then each named cell,
    with identity columns, raw ids and anything that looks like an email, IP address or browser withheld."""

    def shown(cell: str | None) -> str:
        return _IDENTIFYING_VALUE.sub(WITHHELD, cell or "")

    width = len(names)
    named = [
        f"{name}={WITHHELD if name in ID_COLUMNS or is_identity_column(name) else shown(cell)}"
        for name, cell in zip(names, cells[:width], strict=False)
        if name
    ]
    extra = [shown(cell) for cell in cells[width:] if cell is not None]
    beyond = f"beyond the header: {' | '.join(extra)}; " if extra else ""
    return beyond + "row: " + " | ".join(named)
