"""Keep secrets in RPC URLs out of output: API keys in the path or query, ``user:pass@``.

Node providers put the key in the URL (``https://eth-mainnet.g.alchemy.com/v2/KEY``,
``https://mainnet.infura.io/v3/KEY``, ``https://user:pass@host``, ``?apikey=KEY``). Every
message, log line, progress line and manifest entry that names a node goes through
:func:`redact_url`; text that may quote a URL (an exception from the HTTP stack) goes through
:func:`scrub`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["redact_url", "scrub", "secrets_in"]

MASK = "***"
# Path segments this short are routing (v2, v3, rpc, eth), not keys.
_KEPT_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{0,4}$")


def redact_url(url: str) -> str:
    """``url`` with its credentials, key-like path segments and query values masked.

    Scheme, host and port stay, so the user can still tell which node was meant.

    Examples
    --------
    >>> redact_url("https://eth-mainnet.g.alchemy.com/v2/AbCdEf0123456789")
    'https://eth-mainnet.g.alchemy.com/v2/***'
    >>> redact_url("https://alice:s3cret@node.example:8545/?apikey=k&x=1")
    'https://***@node.example:8545/?apikey=***&x=***'
    >>> redact_url("http://127.0.0.1:8545")
    'http://127.0.0.1:8545'
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{netloc}"
    segments = [s if _KEPT_SEGMENT.match(s) else MASK for s in parts.path.split("/")]
    path = "/".join(segments)
    query = "&".join(
        f"{name}={MASK}" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    )
    text = f"{parts.scheme}://{netloc}{path}"
    return f"{text}?{query}" if query else text


def secrets_in(url: str) -> list[str]:
    """The parts of ``url`` that :func:`redact_url` masks, longest first (raw and unquoted).

    Examples
    --------
    >>> secrets_in("https://u:pw@h/v2/KEY123456")
    ['KEY123456', 'u:pw', 'pw']
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url] if url else []
    found: set[str] = set()
    if parts.username:
        found.add(parts.username)
    if parts.password:
        found.add(parts.password)
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and userinfo:
        found.add(userinfo)
    found.update(s for s in parts.path.split("/") if s and not _KEPT_SEGMENT.match(s))
    for _, value in parse_qsl(parts.query, keep_blank_values=True):
        if value:
            found.add(value)
    found |= {unquote(s) for s in found}
    # Short user names ("u") would mask ordinary letters; the full userinfo still goes.
    return sorted((s for s in found if len(s) >= 2), key=lambda s: (-len(s), s))


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` (whole, then each of its secrets) replaced by masked forms.

    Examples
    --------
    >>> scrub("POST https://h/v2/KEY123456 failed (KEY123456)", "https://h/v2/KEY123456")
    'POST https://h/v2/*** failed (***)'
    """
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    for secret in secrets_in(url):
        text = text.replace(secret, MASK)
    return text
