"""Keep secrets out of what geo prints: passwords of database URLs and API keys.

A database URL or connection string given on the command line
(``--to postgresql://geo:SECRET@host/db``, ``host=h password=SECRET``) may
reappear in an error message, ours or the database driver's, which sometimes
quotes the string it could not parse. Everything geo prints about a failure
goes through :func:`redact`, and a connection string is only ever shown
through :func:`mask_dsn`.

Examples
--------
>>> mask_dsn("postgresql+psycopg://geo:SECRET@db.example/gis")
'postgresql+psycopg://geo:***@db.example/gis'
>>> redact("host=h password='s e c' dbname=gis")
'host=h password=*** dbname=gis'
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "***"
# Secrets shorter than this are not replaced wherever they occur in a text (a
# password "db" would garble every message); the patterns below still mask them.
_MIN_KNOWN = 4

# user:password@ of any URL (the password may hold "@" or "/" when not encoded), and of
# a PostgreSQL URL missing its slashes ("postgresql:/user:password@host")
_URL_CREDENTIALS = re.compile(
    r"(?P<head>\b(?:[A-Za-z][A-Za-z0-9+.\-]*://|(?i:postgres(?:ql)?(?:\+\w+)?):/?)"
    r"[^:/?#@\s'\"]*):[^\s'\"]*@"
)
# password=... in a URL query or a key=value connection string; API keys in URLs
_KEY_VALUE = re.compile(
    r"(?i)(?P<head>\b(?:ssl)?(?:password|passwd|pwd)\s*=\s*|[?&](?:tk|token|key|api_?key|"
    r"access_token)=)(?P<value>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,'\"]+)"
)

_known: set[str] = set()


def _passwords(dsn: str) -> set[str]:
    """Passwords a connection string carries, as written and percent-decoded."""
    found = set()
    scheme, sep, rest = dsn.partition("://")
    if sep:
        # the password ends at the last "@" of the address, or of the whole string when
        # it holds an unencoded "?": remember both readings
        for at in (rest.split("?", 1)[0].rfind("@"), rest.rfind("@")):
            if at >= 0 and ":" in rest[:at]:
                found.add(rest[:at].partition(":")[2])
    elif "@" in dsn and "=" not in dsn:  # malformed, e.g. "postgresql:/user:password@host"
        found.add(dsn[:dsn.rfind("@")].rpartition(":")[2])
    for match in _KEY_VALUE.finditer(dsn):
        value = match["value"]
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.add(value)
    found |= {unquote(value) for value in found}
    return {value for value in found if value}


def remember(dsn: str) -> None:
    """Note the passwords of ``dsn`` so that :func:`redact` masks them wherever they occur.

    Parameters
    ----------
    dsn : str
        A database URL or connection string (malformed ones too).
    """
    for value in _passwords(dsn):
        if len(value) >= _MIN_KNOWN:
            _known.update({value, quote(value, safe="")})


def mask_dsn(dsn: str) -> str:
    """Return a database URL or connection string with its password shown as ``***``.

    Handles URLs (with a ``+driver`` suffix, percent-encoded or unencoded
    passwords, ``password=`` in the query), key=value strings
    (``host=h password='x y'``) and malformed strings; the passwords are also
    remembered for :func:`redact`.

    Parameters
    ----------
    dsn : str
        The connection string.

    Returns
    -------
    str
    """
    remember(dsn)
    scheme, sep, rest = dsn.partition("://")
    if sep:
        at = rest.rfind("@")  # the last one: masks too much rather than too little
        if at >= 0 and ":" in rest[:at]:
            user = rest[:at].partition(":")[0]
            dsn = f"{scheme}://{user}:{MASK}{rest[at:]}"
        return _KEY_VALUE.sub(rf"\g<head>{MASK}", _mask_known(dsn))
    return redact(dsn)


def _mask_known(text: str) -> str:
    for value in sorted(_known, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact(text: str) -> str:
    """Return ``text`` with its secrets masked.

    Masks the credentials of URLs, ``password=`` values, API keys in URLs
    (``tk=``, ``key=``, ``token=``) and every password :func:`remember` noted.

    Parameters
    ----------
    text : str
        A message, a log line or a traceback.

    Returns
    -------
    str
    """
    text = _URL_CREDENTIALS.sub(rf"\g<head>:{MASK}@", _mask_known(text))
    return _KEY_VALUE.sub(rf"\g<head>{MASK}", text)
