"""``tracer labels``: address labels from CSV files and GraphSense TagPacks.

Both formats become rows of :data:`tracer.schema.LABELS`. Categories are tracer's closed set
(:data:`tracer.schema.CATEGORIES`, GraphSense concept names). A CSV is the user's own file, so
an unknown category is an error (common synonyms such as ``mixer`` are accepted, see
:data:`CATEGORY_SYNONYMS`); a TagPack is third-party data in GraphSense's larger taxonomy, so
its other concepts become ``other`` (refined by the tag's ``abuse``: ``sanction`` ->
``sanction``, any other abuse -> ``perpetrator``). Labels are untrusted text and are stored
exactly as given; whoever displays them escapes them.

Addresses are validated and normalised as seeds are (:class:`tracer.ingest.seeds.ChainResolver`);
tags for currencies tracer cannot validate are skipped and counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import yaml

from tracer.errors import InputError, SchemaMismatch, UnknownFormat
from tracer.ingest.seeds import ChainResolver, parse_date
from tracer.schema import CATEGORIES, KEYS, LABELS
from tracer.store import Store

__all__ = [
    "CATEGORY_SYNONYMS",
    "CONFIDENCE_LEVELS",
    "FORMATS",
    "category_for",
    "confidence_for",
    "detect_format",
    "ingest_labels",
    "read_labels",
    "read_labels_with_notes",
]

log = logging.getLogger(__name__)

FORMATS = ("csv", "tagpack")

# GraphSense TagPack confidence names -> levels (0-100), as GraphSense defines them.
CONFIDENCE_LEVELS: Mapping[str, int] = {
    "ownership": 100,
    "override": 100,
    "manual_transaction": 90,
    "service_api": 70,
    "authority_data": 60,
    "trusted_provider": 50,
    "service_data": 50,
    "forensic": 50,
    "untrusted_transaction": 40,
    "web_crawl": 20,
    "heuristic": 10,
    "unknown": 5,
}

# Accepted spellings of tracer's categories (keys are lower-case, words joined by "_").
CATEGORY_SYNONYMS: Mapping[str, str] = {
    "mixer": "mixing_service",
    "mixing": "mixing_service",
    "tumbler": "mixing_service",
    "coinjoin": "mixing_service",
    "bridge": "defi_bridge",
    "dex": "defi_dex",
    "cex": "exchange",
    "deposit": "deposit_wallet",
    "deposit_address": "deposit_wallet",
    "hot": "hot_wallet",
    "sanctioned": "sanction",
    "sanctions": "sanction",
    "ofac": "sanction",
    "hacker": "perpetrator",
    "hack": "perpetrator",
    "exploiter": "perpetrator",
    "thief": "perpetrator",
    "attacker": "perpetrator",
    "mining": "miner",
    "mining_pool": "miner",
    "mining_service": "miner",
    "pool": "miner",
}

_LABEL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "address": ("address",),
    "label": ("label", "name", "tag"),
    "category": ("category",),
    "chain": ("chain", "network", "currency"),
    "source": ("source",),
    "confidence": ("confidence",),
    "is_cluster_definer": ("is_cluster_definer",),
    "lastmod": ("lastmod", "last_modified", "date"),
}
_REQUIRED = ("address", "label", "category")
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
_SUFFIXES = (".csv", ".yaml", ".yml")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def category_for(value: str, *, strict: bool = True) -> str | None:
    """Tracer's category for ``value``: itself, a synonym's target, or None when unknown.

    With ``strict=False`` (TagPacks) an unknown concept is ``other`` instead of None.

    Examples
    --------
    >>> category_for("Mixer"), category_for("defi_bridge"), category_for("gambling")
    ('mixing_service', 'defi_bridge', None)
    >>> category_for("gambling", strict=False)
    'other'
    """
    key = _key(value)
    if key in CATEGORIES:
        return key
    if key in CATEGORY_SYNONYMS:
        return CATEGORY_SYNONYMS[key]
    return None if strict else "other"


def confidence_for(value: object) -> int | None:
    """A confidence level 0-100 from a number or a GraphSense confidence name; None if neither.

    Examples
    --------
    >>> confidence_for("authority_data"), confidence_for(75), confidence_for("75")
    (60, 75, 75)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 100 else None
    text = str(value).strip()
    if text.isdigit():
        return confidence_for(int(text))
    return CONFIDENCE_LEVELS.get(_key(text))


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


class _Rows:
    """Collects LABELS rows column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in LABELS}

    def add(self, **row: Any) -> None:
        for column in LABELS:
            self.columns[column].append(row[column])

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.columns, schema=LABELS)


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(path: Path, resolver: ChainResolver) -> pl.DataFrame:
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        msg = "empty file"
        raise InputError(msg, source=path, fix="Pass a file with a header and labels")
    by_key = {_key(h): i for i, h in enumerate(header)}
    index: dict[str, int] = {}
    for column, names in _LABEL_COLUMNS.items():
        hit = next((by_key[n] for n in names if n in by_key), None)
        if hit is not None:
            index[column] = hit
    missing = [c for c in _REQUIRED if c not in index]
    if missing:
        shown = ", ".join(repr(h) for h in header)
        msg = f"missing column(s) {', '.join(missing)} (columns: {shown})"
        raise SchemaMismatch(
            msg,
            source=path,
            line=1,
            field=missing[0],
            fix="A labels CSV has columns address, label, category (optional: chain, source, "
            "confidence, is_cluster_definer, lastmod)",
        )
    rows = _Rows()
    seen = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        seen += 1
        line = reader.line_num
        if len(row) > len(header):
            msg = f"{len(row)} fields where the header has {len(header)}"
            raise InputError(msg, source=path, line=line, fix="Quote fields that contain commas")
        row += [""] * (len(header) - len(row))  # short rows: the missing cells are empty
        cell = {c: row[i] for c, i in index.items()}
        _csv_row(cell, rows, resolver, path=path, line=line)
    if not seen:
        msg = "no rows after the header"
        raise InputError(msg, source=path, fix="Pass a file with at least one label")
    return rows.frame()


def _csv_row(
    cell: dict[str, str], rows: _Rows, resolver: ChainResolver, *, path: Path, line: int
) -> None:
    def fail(field: str, problem: str, fix: str) -> NoReturn:
        raise InputError(problem, source=path, line=line, field=field, value=cell[field], fix=fix)

    if not cell["address"].strip():
        fail("address", "empty address", "Fill in or drop the row")
    if not cell["label"].strip():
        fail("label", "empty label", "Give every row a label")
    category = category_for(cell["category"])
    if category is None:
        synonyms = ", ".join(f"{k}->{v}" for k, v in sorted(CATEGORY_SYNONYMS.items()))
        fail(
            "category",
            "unknown category",
            f"Use one of {', '.join(CATEGORIES)} (synonyms accepted: {synonyms})",
        )
    confidence = None
    if cell.get("confidence", "").strip():
        confidence = confidence_for(cell["confidence"])
        if confidence is None:
            fail(
                "confidence",
                "not a confidence",
                f"Write 0-100 or a GraphSense name ({', '.join(CONFIDENCE_LEVELS)})",
            )
    definer = None
    if cell.get("is_cluster_definer", "").strip():
        definer = _bool(cell["is_cluster_definer"])
        if definer is None:
            fail("is_cluster_definer", "not a boolean", "Write true or false")
    lastmod = parse_date(cell.get("lastmod") or None, source=path, line=line, field="lastmod")
    resolved = resolver.resolve(cell["address"], cell.get("chain") or None, line=line)
    if resolved is None:
        return
    rows.add(
        chain=resolved[0],
        address=resolved[1],
        label=cell["label"],
        category=category,
        source=cell.get("source") or path.name,
        confidence=confidence,
        is_cluster_definer=definer,
        lastmod=lastmod,
    )


# --- GraphSense TagPack ------------------------------------------------------------------------


def _read_tagpack(path: Path, resolver: ChainResolver) -> pl.DataFrame:
    try:
        pack = yaml.safe_load(_text(path))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = f"not valid YAML ({getattr(err, 'problem', None) or err})"
        raise InputError(msg, source=path, line=line, fix="Check the YAML syntax") from None
    if not isinstance(pack, dict) or not isinstance(pack.get("tags"), list):
        msg = "not a TagPack: expected a mapping with a 'tags' list"
        raise SchemaMismatch(
            msg,
            source=path,
            field="tags",
            fix="A TagPack has header fields (title, creator, ...) and a list of tags",
        )
    if not pack["tags"]:
        msg = "TagPack without tags"
        raise InputError(msg, source=path, field="tags", fix="Add at least one tag")
    header = {k: v for k, v in pack.items() if k != "tags"}
    rows = _Rows()
    for i, tag in enumerate(pack["tags"]):
        where = f"tags[{i}]"
        if not isinstance(tag, dict):
            msg = "a tag is not a mapping"
            raise SchemaMismatch(msg, source=path, field=where, value=tag, fix="Write key: value")
        _tag_row({**header, **tag}, rows, resolver, path=path, where=where)
    return rows.frame()


def _tag_row(
    tag: dict[str, Any], rows: _Rows, resolver: ChainResolver, *, path: Path, where: str
) -> None:
    def fail(field: str, problem: str, fix: str) -> NoReturn:
        raise InputError(
            problem, source=path, field=f"{where}.{field}", value=tag.get(field), fix=fix
        )

    address = tag.get("address")
    if not isinstance(address, str) or not address.strip():
        fix = "Give every tag an address, quoted ('0x...') so YAML keeps it a string"
        fail("address", "missing or non-string address", fix)
    network = tag.get("network", tag.get("currency"))
    if network is None:
        code = None
    elif isinstance(network, str):
        code = network
    else:
        fail("currency", "not a currency code", "Write a code such as ETH or BTC")
    category = category_for(str(tag.get("category") or ""), strict=False) or "other"
    if category == "other" and tag.get("abuse"):
        category = "sanction" if _key(str(tag["abuse"])) == "sanction" else "perpetrator"
    confidence = None
    if tag.get("confidence") is not None:
        confidence = confidence_for(tag["confidence"])
        if confidence is None:
            fail(
                "confidence",
                "unknown confidence",
                f"Use 0-100 or one of {', '.join(CONFIDENCE_LEVELS)}",
            )
    definer = None
    if tag.get("is_cluster_definer") is not None:
        definer = _bool(tag["is_cluster_definer"])
        if definer is None:
            fail("is_cluster_definer", "not a boolean", "Write true or false")
    lastmod = _tag_date(tag.get("lastmod"), path=path, where=where)
    resolved = resolver.resolve(address, code, field=f"{where}.address")
    if resolved is None:
        return
    label = next((tag[k] for k in ("label", "actor", "title") if tag.get(k) is not None), path.stem)
    rows.add(
        chain=resolved[0],
        address=resolved[1],
        label=label if isinstance(label, str) else str(label),
        category=category,
        source=str(tag["source"]) if tag.get("source") is not None else path.name,
        confidence=confidence,
        is_cluster_definer=definer,
        lastmod=lastmod,
    )


def _tag_date(value: object, *, path: Path, where: str) -> dt.date | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC).date()  # GraphSense allows epoch seconds
    return parse_date(value, source=path, line=None, field=f"{where}.lastmod")


# --- dispatch ----------------------------------------------------------------------------------


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        msg = "not UTF-8 text"
        raise UnknownFormat(
            msg, source=path, fix=f"Pass a labels file in one of the formats {', '.join(FORMATS)}"
        ) from None


def detect_format(path: Path) -> str:
    """``csv`` or ``tagpack`` from the extension, else from the first line; or UnknownFormat."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "tagpack"
    if suffix == ".csv":
        return "csv"
    text = path.read_bytes()[:4096].decode("utf-8", errors="replace")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if re.match(r"^[A-Za-z_]+:(\s|$)", first):
        return "tagpack"
    if "address" in {_key(h) for h in next(csv.reader([first]), [])}:
        return "csv"
    msg = "cannot detect the labels format (neither a CSV with an address column nor YAML)"
    raise UnknownFormat(
        msg, source=path, field="--format", fix=f"Pass --format, one of {', '.join(FORMATS)}"
    )


def _files(path: Path) -> list[Path]:
    if not path.exists():
        msg = "no such file or directory"
        raise InputError(msg, value=str(path), fix="Check the path")
    if not path.is_dir():
        return [path]
    inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if not inside:
        msg = "directory holds no .csv, .yaml or .yml files"
        raise InputError(msg, value=str(path), fix="Point at a labels file or a TagPack folder")
    return inside


def read_labels_with_notes(
    path: str | Path, *, fmt: str = "auto"
) -> tuple[pl.DataFrame, list[str]]:
    """Like :func:`read_labels`, and the notes on what was skipped (one string each)."""
    if fmt not in ("auto", *FORMATS):
        msg = "unknown labels format"
        raise UnknownFormat(
            msg, field="--format", value=fmt, fix=f"Use auto or one of {', '.join(FORMATS)}"
        )
    frames = []
    notes: list[str] = []
    for file in _files(Path(path)):
        if file.stat().st_size == 0:
            msg = "empty file"
            raise InputError(msg, source=file, fix="Pass a file with at least one label")
        file_fmt = detect_format(file) if fmt == "auto" else fmt
        resolver = ChainResolver(file, strict_codes=file_fmt == "csv")
        reader = _read_csv if file_fmt == "csv" else _read_tagpack
        frames.append(reader(file, resolver))
        notes += resolver.notes()
    frame = pl.concat(frames)
    return frame.unique(subset=list(KEYS["labels"]), keep="first", maintain_order=True), notes


def read_labels(path: str | Path, *, fmt: str = "auto") -> pl.DataFrame:
    r"""Read address labels into rows of :data:`tracer.schema.LABELS`.

    Parameters
    ----------
    path
        A CSV, a GraphSense TagPack (YAML), or a directory whose ``.csv``/``.yaml``/``.yml``
        files are read in name order.
    fmt
        ``auto`` (by extension, then content), ``csv`` or ``tagpack``.

    Returns
    -------
    pl.DataFrame
        One row per (chain, address, label, source), in file order.

    Raises
    ------
    InputError
        A missing file or column, an invalid address, an unknown category or confidence,
        a malformed date or boolean; the message names the file, line (CSV) or tag index
        (TagPack), the field, the value and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = f.write_text(
    ...     "address,label,category\n0x8589427373D6D84E98730D7795D8f6f8731FDA16,Tornado,mixer\n"
    ... )
    >>> read_labels(f).select("chain", "address", "category").row(0)
    ('ethereum', '0x8589427373d6d84e98730d7795d8f6f8731fda16', 'mixing_service')
    """
    return read_labels_with_notes(path, fmt=fmt)[0]


def ingest_labels(store: Store, path: str | Path, *, fmt: str = "auto") -> dict[str, int]:
    """Read labels and commit them to ``store``; return the rows added per table.

    What was skipped (currencies tracer cannot validate) is logged as warnings on this
    module's logger. Re-loading a file adds nothing (rows are deduplicated on the labels key).
    """
    frame, notes = read_labels_with_notes(path, fmt=fmt)
    for note in notes:
        log.warning(note)
    return store.commit({"labels": frame})
