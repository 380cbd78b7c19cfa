"""Keep secrets in RPC URLs out of output: API keys in the path or query, ``user:pass@``.

Node providers put the key in the URL (``https://eth-mainnet.g.alchemy.com/v2/KEY``,
``https://mainnet.infura.io/v3/KEY``, ``https://user:pass@host``, ``?apikey=KEY``). Every
message, log line, progress line and manifest entry that names a node goes through
:func:`redact_url`; text that may quote a URL (an exception from the HTTP stack) goes through
:func:`scrub`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["ScrubFilter", "redact_url", "scrub", "scrub_logs", "secrets_in"]

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
    query = "&".join(f"{name}={MASK}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
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
    # Pieces of a garbled value (a URL with spaces, a pasted header) that look like keys.
    found |= {piece for s in found for piece in re.split(r"[\s:@/?&=]+", s) if len(piece) >= 8}
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


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the secrets of registered URLs from every record."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record``'s message with every registered URL scrubbed; keep the record."""
        if self.urls:
            text = record.getMessage()
            for url in self.urls:
                text = scrub(text, url)
            record.msg, record.args = text, None
        return True


_FILTER = ScrubFilter()
# Loggers of the HTTP stacks under web3.py that quote request URLs or paths at DEBUG level.
_LOGGERS = (
    "web3",
    "web3.providers.HTTPProvider",
    "web3.providers.base",
    "web3.manager.RequestManager",
    "web3._utils.http_session_manager.HTTPSessionManager",
    "urllib3",
    "urllib3.connectionpool",
    "requests",
)


def scrub_logs(url: str) -> None:
    """Scrub ``url``'s secrets from what web3.py, requests and urllib3 log from now on.

    Examples
    --------
    >>> scrub_logs("https://h/v2/KEY123456")
    >>> logger = logging.getLogger("urllib3.connectionpool")
    >>> record = logger.makeRecord("urllib3", 10, "f", 1, "POST %s", ("/v2/KEY123456",), None)
    >>> _ = logger.filters[0].filter(record)
    >>> record.getMessage()
    'POST /v2/***'
    """
    _FILTER.urls.add(url)
    names = set(_LOGGERS) | {
        name
        for name in logging.root.manager.loggerDict
        if name.startswith(("web3", "urllib3", "requests"))
    }
    for name in sorted(names):
        logging.getLogger(name).addFilter(_FILTER)
