"""``tracer seeds``: attributed addresses from lists, CSV/JSON files and OFAC's SDN formats.

Every format is read into the same intermediate records, then one pass gives each address its
chain, validates and normalises it with :mod:`tracer.addresses`, applies ``--chain`` and builds
rows of :data:`tracer.schema.SEEDS`. Nothing is written until every row has been read, so a bad
line leaves the data directory as it was.

Chains. A row's chain comes from, in order: the file (a ``chain`` column or key, an OFAC asset
code, or the asset in a file name such as ``sanctioned_addresses_XBT.txt``); else ``--chain``
when the address has that chain's form; else its form (``0x`` + 40 hex is ``ethereum``,
anything else is read as ``bitcoin``). Asset codes are mapped by :func:`chain_for_code`
(OFAC writes Bitcoin as ``XBT``). Token assets (``USDT``, ``USDC``) are not chains: their
addresses get a chain from their form. Assets tracer cannot validate (``XMR``, ``TRX``, ``ZEC``
...) and address forms it cannot check (Bitcoin Cash cashaddr, Tron, Avalanche X-chain) are
skipped and counted, never stored unchecked: see ``docs/seeds-and-labels.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tracer.addresses import EVM_CHAINS, UTXO_CHAINS, is_evm, normalize
from tracer.errors import InputError, InvalidAddress, SchemaMismatch, UnknownFormat
from tracer.ingest import _ofac
from tracer.schema import KEYS, SEEDS
from tracer.store import Store

__all__ = [
    "CHAIN_CODES",
    "COLUMNS",
    "FORMATS",
    "TOKEN_ASSETS",
    "UNSUPPORTED_ASSETS",
    "ChainResolver",
    "chain_for_code",
    "detect_format",
    "ingest_seeds",
    "parse_date",
    "read_seeds",
    "read_seeds_with_notes",
]

log = logging.getLogger(__name__)

FORMATS = ("txt", "csv", "json", "ofac-xml", "ofac-advanced-xml", "ofac-csv")

# Asset codes and chain names (upper case) -> tracer chain. Tracer's own chain names map to
# themselves; OFAC writes Bitcoin as XBT.
CHAIN_CODES: Mapping[str, str] = {
    **{c.upper(): c for c in EVM_CHAINS | UTXO_CHAINS},
    "ETH": "ethereum",
    "XBT": "bitcoin",
    "BTC": "bitcoin",
    "LTC": "litecoin",
    "BCH": "bitcoin_cash",
    "ETC": "ethereum_classic",
    "BSC": "bsc",
    "BNB": "bsc",
    "BEP20": "bsc",
    "ARB": "arbitrum",
    "MATIC": "polygon",
    "POL": "polygon",
    "AVAX": "avalanche",
    "FTM": "fantom",
    "OP": "optimism",
    "DOGE": "dogecoin",
    "GNO": "gnosis",
    "XDAI": "gnosis",
}
# Tokens that live on several chains: the address's form decides (0x -> EVM, else Bitcoin).
TOKEN_ASSETS = frozenset({"USDT", "USDC", "DAI", "BUSD", "OMNI"})
# Assets whose addresses tracer cannot validate: counted and skipped (OFAC lists them all).
UNSUPPORTED_ASSETS = frozenset(
    {"XMR", "TRX", "TRON", "ZEC", "DASH", "BTG", "BSV", "XRP", "XVG", "SOL", "ADA", "ATOM"}
    | {"EOS", "DOT", "XLM", "XTZ", "ALGO", "NEAR", "TON", "BEP2", "KCS", "RBTC", "L-BTC"}
)

_EVM_FORM = re.compile(r"0x[0-9a-fA-F]{40}")
# Forms of chains tracer cannot validate; a failed check on one of them is a skip, not an error.
_UNCHECKABLE_FORMS = (
    ("Bitcoin Cash cashaddr", re.compile(r"(?i)(bitcoincash:)?[qp][02-9ac-hj-np-z]{41}")),
    ("Tron", re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")),
    ("Avalanche X/P-chain", re.compile(r"[XP]-avax1[02-9ac-hj-np-z]{38,}")),
)
_TX_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_FILE_ASSET = re.compile(r"(?:^|[_\-. ])([A-Z][A-Z0-9]{1,5})$")
_SUFFIXES = (".txt", ".lst", ".csv", ".json", ".xml")
_COMPANIONS = ("SDN_COMMENTS", "ADD.", "ALT.", "README")

# CSV/JSON column names per SEEDS column, first match wins (real files use several).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "address": ("address", "addr", "wallet", "wallet_address"),
    "chain": ("chain", "network", "blockchain", "currency", "asset"),
    "attribution": ("attribution", "name", "entity", "actor", "sdn_name"),
    "incident": ("incident", "case", "event"),
    "source": ("source", "source_document", "list"),
    "source_date": ("source_date", "date", "date_added", "listing_date", "listed"),
    "transaction_hash": ("transaction_hash", "tx_hash", "txid", "hash"),
}
_ALL_CHAINS = ", ".join(sorted(EVM_CHAINS | UTXO_CHAINS))


@dataclass(frozen=True)
class _Raw:
    """One address as a file wrote it, before its chain is settled and it is validated."""

    address: str
    code: str | None  # the chain or asset code the file gave, if any
    attribution: str | None = None
    incident: str | None = None
    source: str | None = None
    source_date: dt.date | None = None
    transaction_hash: str | None = None
    line: int | None = None
    field: str = "address"


# --- chains ------------------------------------------------------------------------------------


def chain_for_code(code: str) -> str | None:
    """The tracer chain an asset code or chain name stands for, or None when it is not one.

    Examples
    --------
    >>> chain_for_code("XBT"), chain_for_code("eth"), chain_for_code("Polygon")
    ('bitcoin', 'ethereum', 'polygon')
    >>> chain_for_code("XMR") is None
    True
    """
    return CHAIN_CODES.get(code.strip().upper())


def _check_chain_option(chain: str | None) -> str | None:
    if chain is None:
        return None
    resolved = chain_for_code(chain)
    if resolved is None:
        msg = "tracer cannot validate addresses of this chain"
        raise InputError(msg, field="--chain", value=chain, fix=f"Use one of {_ALL_CHAINS}")
    return resolved


def _uncheckable_form(address: str) -> str | None:
    for name, pattern in _UNCHECKABLE_FORMS:
        if pattern.fullmatch(address):
            return name
    return None


def _guess_chain(address: str, wanted: str | None) -> str:
    evm_form = address[:2].lower() == "0x"  # a malformed 0x address is reported as EVM
    if wanted is not None and evm_form == is_evm(wanted):
        return wanted
    return "ethereum" if evm_form else "bitcoin"


@dataclass
class ChainResolver:
    """Settles each address's chain, validates it, and counts what it skips.

    Parameters
    ----------
    path
        The file being read, for error messages and notes.
    wanted
        ``--chain``: other chains' addresses are skipped, and addresses without a chain of
        their own take it when their form fits.
    strict_codes
        Whether a chain code that is neither a tracer chain nor a known unsupported asset is an
        error (seed files) or is skipped and counted (TagPacks, which name hundreds of assets).
    """

    path: Path
    wanted: str | None = None
    strict_codes: bool = True
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    assets: Counter[str] = dataclasses.field(default_factory=Counter)
    undated: Counter[str] = dataclasses.field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        """Count one skipped address."""
        self.skipped[reason] += 1

    def resolve(
        self, address: str, code: str | None, *, line: int | None = None, field: str = "address"
    ) -> tuple[str, str] | None:
        """``(chain, normalised address)``, or None when the address is skipped.

        ``code`` is the chain or asset the file gave (``ETH``, ``XBT``, ``ethereum``), if any.
        An address that fails its chain's check raises :class:`~tracer.errors.InvalidAddress`
        located at ``line``/``field``, unless it has the form of a chain tracer cannot check.
        """
        address = address.strip()
        code = code.strip().upper() if code else None
        if code and code not in TOKEN_ASSETS:
            chain = CHAIN_CODES.get(code)
            if chain is None:
                if code in UNSUPPORTED_ASSETS or not self.strict_codes:
                    self.assets[code] += 1
                    return None
                msg = "unknown chain or asset"
                raise InputError(
                    msg,
                    source=self.path,
                    line=line,
                    field="chain",
                    value=code,
                    fix=f"Use one of {_ALL_CHAINS} (or ETH, XBT/BTC, BSC, ...); assets tracer "
                    f"cannot validate ({', '.join(sorted(UNSUPPORTED_ASSETS))}) are skipped",
                )
        else:
            form = _uncheckable_form(address)
            if form is not None:
                self.skip(f"{form} address: tracer cannot validate this form")
                return None
            chain = _guess_chain(address, self.wanted)
        if self.wanted is not None and chain != self.wanted:
            self.skip(f"chain {chain}, not --chain {self.wanted}")
            return None
        try:
            return chain, normalize(address, chain)
        except InvalidAddress as err:
            form = _uncheckable_form(address)
            if form is not None:
                self.skip(f"{form} address under {code or chain}: tracer cannot validate it")
                return None
            if code in TOKEN_ASSETS:
                # A token on a chain tracer does not know (Solana, Tezos, Algorand...).
                self.skip(f"{code} address of a chain tracer cannot validate")
                return None
            raise err.at(source=self.path, line=line, field=field) from None

    def notes(self) -> list[str]:
        """One line per kind of skip, naming the file."""
        notes = []
        if self.assets:
            total = sum(self.assets.values())
            each = ", ".join(f"{code} {n}" for code, n in sorted(self.assets.items()))
            notes.append(
                f"{self.path}: skipped {total} address{'es' if total > 1 else ''} of assets "
                f"tracer cannot validate ({each})"
            )
        notes += [
            f"{self.path}: skipped {n} address{'es' if n > 1 else ''}: {reason}"
            for reason, n in sorted(self.skipped.items())
        ]
        notes += [
            f"{self.path}: {n} row{'s' if n > 1 else ''} kept without a source_date, "
            f"{text!r} is not a YYYY-MM-DD date"
            for text, n in sorted(self.undated.items())
        ]
        return notes


# --- reading helpers ---------------------------------------------------------------------------


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        msg = "not UTF-8 text"
        raise UnknownFormat(
            msg, source=path, fix=f"Pass a text file in one of the formats {', '.join(FORMATS)}"
        ) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        msg = "no such file or directory"
        raise InputError(msg, value=str(path), fix="Check the path")
    if path.is_file() and path.stat().st_size == 0:
        msg = "empty file"
        raise InputError(msg, source=path, fix="Pass a file that lists at least one address")


def parse_date(value: object, *, source: Path, line: int | None, field: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` date (a time after it is ignored); empty is None."""
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        msg = "not a date"
        raise InputError(
            msg, source=source, line=line, field=field, value=value, fix="Write dates as YYYY-MM-DD"
        ) from None


def _tx_hash(value: str | None, *, source: Path, line: int | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _TX_HASH.fullmatch(text):
        msg = "not a transaction hash"
        raise InputError(
            msg,
            source=source,
            line=line,
            field=field,
            value=value,
            fix="A transaction hash is 64 hex digits (0x-prefixed on EVM chains)",
        )
    body = text.lower().removeprefix("0x")
    return body if not text.lower().startswith("0x") else "0x" + body


def _pick_columns(header: Sequence[str], *, path: Path) -> dict[str, str]:
    """SEEDS column -> the file's header, by the names in :data:`COLUMNS`."""
    by_key = {_key(h): h for h in header}
    picked = {}
    for column, names in COLUMNS.items():
        for name in names:
            if name in by_key:
                picked[column] = by_key[name]
                break
    if "address" not in picked:
        shown = ", ".join(repr(h) for h in header)
        msg = f"no address column (columns: {shown})"
        raise SchemaMismatch(
            msg,
            source=path,
            line=1,
            field="address",
            fix="Name the column of addresses 'address' (optional: chain, attribution, incident, "
            "source, source_date, transaction_hash)",
        )
    return picked


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _file_asset(path: Path) -> str | None:
    """The asset a list's file name carries (``sanctioned_addresses_XBT.txt`` -> ``XBT``)."""
    match = _FILE_ASSET.search(path.stem)
    if match is None:
        return None
    code = match.group(1)
    known = code in CHAIN_CODES or code in TOKEN_ASSETS or code in UNSUPPORTED_ASSETS
    return code if known else None


# --- format readers: path -> raw addresses -------------------------------------------------------


def _read_txt(path: Path) -> Iterator[_Raw]:
    code = _file_asset(path)
    for number, line in enumerate(_text(path).splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        if len(body.split()) > 1:
            msg = "more than one word on a line of an address list"
            raise InputError(
                msg,
                source=path,
                line=number,
                field="address",
                value=body,
                fix="Write one address per line (comments after #), or pass a CSV with a header",
            )
        yield _Raw(body, code, source=path.name, line=number)


def _lenient_date(text: str | None, undated: Counter[str]) -> dt.date | None:
    # Real seed files write "added after 2024-08-20 (exact date not verified)": keep the row.
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        undated[text] += 1
        return None


def _read_csv(path: Path, undated: Counter[str]) -> Iterator[_Raw]:
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        msg = "empty file"
        raise InputError(msg, source=path, fix="Pass a file that lists at least one address")
    cols = _pick_columns(header, path=path)
    index = {column: header.index(name) for column, name in cols.items()}
    rows = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) > len(header):
            msg = f"{len(row)} fields where the header has {len(header)}"
            raise InputError(msg, source=path, line=line, fix="Quote fields that contain commas")
        row += [""] * (len(header) - len(row))  # short rows: the missing cells are empty
        rows += 1

        def get(column: str, row: list[str] = row) -> str | None:
            i = index.get(column)
            value = row[i].strip() if i is not None else ""
            return value or None

        address = get("address")
        if address is None:
            msg = "empty address"
            raise InvalidAddress(
                msg, source=path, line=line, field=cols["address"], fix="Fill in or drop the row"
            )
        yield _Raw(
            address,
            get("chain"),
            attribution=get("attribution"),
            incident=get("incident"),
            source=get("source") or path.name,
            source_date=_lenient_date(get("source_date"), undated),
            transaction_hash=_tx_hash(
                get("transaction_hash"),
                source=path,
                line=line,
                field=cols.get("transaction_hash", ""),
            ),
            line=line,
            field=cols["address"],
        )
    if not rows:
        msg = "no rows after the header"
        raise InputError(msg, source=path, fix="Pass a file that lists at least one address")


def _read_json(path: Path, undated: Counter[str]) -> Iterator[_Raw]:
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as err:
        msg = f"not valid JSON ({err.msg})"
        raise InputError(msg, source=path, line=err.lineno, fix="Check the JSON syntax") from None
    items = data.get("seeds", data.get("addresses")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        msg = "expected a non-empty list of addresses or of objects with an 'address' key"
        raise SchemaMismatch(
            msg,
            source=path,
            fix='Write ["0x...", ...] or [{"address": "0x...", "chain": "ethereum", ...}, ...]',
        )
    for i, item in enumerate(items):
        where = f"[{i}]"
        if isinstance(item, str):
            yield _Raw(item, None, source=path.name, field=where)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            msg = "not an address string or an object with an 'address' string"
            raise SchemaMismatch(
                msg, source=path, field=where, value=item, fix="Give every entry an address"
            )
        yield _json_record(item, path=path, where=where, undated=undated)


def _json_record(item: dict[str, Any], *, path: Path, where: str, undated: Counter[str]) -> _Raw:
    keys = {_key(k): k for k in item}

    def get(column: str) -> str | None:
        for name in COLUMNS[column]:
            if name in keys:
                value = item[keys[name]]
                if value is None:
                    return None
                if not isinstance(value, str | int | float):
                    msg = "expected a string"
                    raise InputError(msg, source=path, field=f"{where}.{name}", value=value)
                return str(value).strip() or None
        return None

    return _Raw(
        str(item["address"]),
        get("chain"),
        attribution=get("attribution"),
        incident=get("incident"),
        source=get("source") or path.name,
        source_date=_lenient_date(get("source_date"), undated),
        transaction_hash=_tx_hash(
            get("transaction_hash"), source=path, line=None, field=f"{where}.transaction_hash"
        ),
        field=f"{where}.address",
    )


def _from_ofac(listing: _ofac.OfacList) -> Iterator[_Raw]:
    for entry in listing.addresses:
        programs = " ".join(f"[{p}]" for p in entry.programs)
        yield _Raw(
            entry.address,
            entry.asset,
            attribution=entry.entity or None,
            source=f"OFAC SDN {programs}".strip(),
            source_date=listing.published,
            line=entry.line,
            field=entry.field,
        )


# --- format detection --------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """The seeds format of ``path``, from its extension and its first bytes.

    Raises :class:`~tracer.errors.UnknownFormat` listing the formats when it cannot tell.
    """
    head = path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if path.suffix.lower() == ".xml" or head.startswith(b"<"):
        root = _ofac.xml_root_name(path)
        if root == "sdnList":
            return "ofac-xml"
        if root == "Sanctions":
            return "ofac-advanced-xml"
        return _unknown(path, f"XML whose root element is {root!r}")
    if path.suffix.lower() == ".json" or head[:1] in (b"[", b"{"):
        return "json"
    if any(b < 0x20 and b not in b"\t\r\n" for b in head):
        return _unknown(path, "binary content")
    text = head.decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return _unknown(path, "no content")
    first = next(csv.reader([lines[0]]))
    if len(first) == 12 and first[0].strip().isdigit():  # SDN.CSV's 12 columns
        return "ofac-csv"
    if any(_key(h) in COLUMNS["address"] for h in first):
        return "csv"
    if len(first) > 1:
        return "csv"  # a header without an address column: the CSV reader names the problem
    if len(lines[0].split("#", 1)[0].split()) == 1:
        return "txt"  # one word per line; a later line with more is an error naming its line
    return _unknown(path, "neither one address per line nor a CSV header")


def _unknown(path: Path, why: str) -> str:
    msg = f"cannot detect the seeds format ({why})"
    raise UnknownFormat(
        msg,
        source=path,
        field="--format",
        fix=f"Pass --format, one of {', '.join(FORMATS)}",
    )


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    inside = sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and p.suffix.lower() in _SUFFIXES
        and not p.name.upper().startswith(_COMPANIONS)
    )
    if not inside:
        msg = f"directory holds no seed files ({', '.join(_SUFFIXES)})"
        raise InputError(msg, value=str(path), fix="Point at a seeds file")
    return inside


# --- public API --------------------------------------------------------------------------------


def _raw_records(file: Path, fmt: str, undated: Counter[str]) -> tuple[Iterable[_Raw], list[str]]:
    if fmt == "txt":
        return _read_txt(file), []
    if fmt == "csv":
        return _read_csv(file, undated), []
    if fmt == "json":
        return _read_json(file, undated), []
    readers = {
        "ofac-xml": _ofac.read_sdn_xml,
        "ofac-advanced-xml": _ofac.read_sdn_advanced_xml,
        "ofac-csv": _ofac.read_sdn_csv,
    }
    if fmt not in readers:
        msg = "unknown seeds format"
        raise UnknownFormat(
            msg, field="--format", value=fmt, fix=f"Use one of {', '.join(FORMATS)}"
        )
    listing = readers[fmt](file)
    return _from_ofac(listing), list(listing.notes)


def read_seeds_with_notes(
    path: str | Path, *, fmt: str = "auto", chain: str | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Like :func:`read_seeds`, and the notes on what was skipped (one string each)."""
    path = Path(path)
    _check_file(path)
    wanted = _check_chain_option(chain)
    frames: list[pl.DataFrame] = []
    notes: list[str] = []
    for file in _files(path):
        _check_file(file)
        file_fmt = detect_format(file) if fmt == "auto" else fmt
        resolver = ChainResolver(file, wanted)
        records, file_notes = _raw_records(file, file_fmt, resolver.undated)
        rows: dict[str, list[Any]] = {c: [] for c in SEEDS}
        for raw in records:
            resolved = resolver.resolve(raw.address, raw.code, line=raw.line, field=raw.field)
            if resolved is None:
                continue
            rows["chain"].append(resolved[0])
            rows["address"].append(resolved[1])
            rows["attribution"].append(raw.attribution)
            rows["incident"].append(raw.incident)
            rows["source"].append(raw.source)
            rows["source_date"].append(raw.source_date)
            rows["transaction_hash"].append(raw.transaction_hash)
        frames.append(pl.DataFrame(rows, schema=SEEDS))
        notes += file_notes + resolver.notes()
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=SEEDS)
    return frame.unique(subset=list(KEYS["seeds"]), keep="first", maintain_order=True), notes


def read_seeds(path: str | Path, *, fmt: str = "auto", chain: str | None = None) -> pl.DataFrame:
    r"""Read attributed addresses into rows of :data:`tracer.schema.SEEDS`.

    Parameters
    ----------
    path
        A file, or a directory whose seed files (``.txt``, ``.csv``, ``.json``, ``.xml``) are
        read in name order.
    fmt
        ``auto`` (detect from extension and content) or one of :data:`FORMATS`.
    chain
        Keep only this chain's addresses; addresses the file gives no chain take it when their
        form fits.

    Returns
    -------
    pl.DataFrame
        One row per (chain, address, incident, source), in file order; addresses normalised
        (EVM lower-case, Bitcoin as written after its checksum is verified).

    Raises
    ------
    InputError
        A missing file or column, an invalid address (naming file, line and field), an unknown
        chain, a malformed date; :class:`~tracer.errors.UnknownFormat` when ``auto`` cannot tell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "seeds.txt"
    >>> _ = f.write_text(
    ...     "# Ronin exploiter\n0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n"
    ...     "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak  # TIAN, Yinyin\n"
    ... )
    >>> seeds = read_seeds(f)
    >>> seeds["chain"].to_list()
    ['ethereum', 'bitcoin']
    >>> seeds["address"][0]
    '0x098b716b8aaf21512996dc57eb0615e2383e2f96'
    >>> read_seeds(f, chain="bitcoin")["address"].to_list()
    ['134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak']
    """
    return read_seeds_with_notes(path, fmt=fmt, chain=chain)[0]


def ingest_seeds(
    store: Store, path: str | Path, *, fmt: str = "auto", chain: str | None = None
) -> dict[str, int]:
    """Read seeds and commit them to ``store``; return the rows added per table.

    What was skipped (unsupported assets, other chains) is logged as warnings on this module's
    logger. Re-loading a file adds nothing (rows are deduplicated on the seeds key).
    """
    frame, notes = read_seeds_with_notes(path, fmt=fmt, chain=chain)
    for note in notes:
        log.warning(note)
    return store.commit({"seeds": frame})
