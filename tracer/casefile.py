"""The case file: parse and validate ``case.toml`` before anything runs (DESIGN.md).

Every key is known, typed and checked here, so a typo (``max_hop``), a missing file, a bad
value or two data sources at once is an error naming the key, before any ingest starts.
Paths in the file are relative to the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.addresses import EVM_CHAINS, UTXO_CHAINS, normalize
from tracer.amounts import parse_uint
from tracer.errors import CaseError, InputError
from tracer.schema import CATEGORIES

__all__ = ["Case", "DataSource", "TraceSettings", "load_case"]

_DIRECTIONS = ("forward", "backward")
_TAINTS = ("poison", "haircut", "fifo")
_FILE_FORMATS = ("auto", "tracer", "ethereum-etl", "etherscan", "mapped", "bitcoin-etl")
_DEFAULT_STOP = ("exchange", "deposit_wallet", "mixing_service", "defi_bridge", "sanction")


@dataclass(frozen=True)
class DataSource:
    """Where the transactions come from: files (or a data directory) or a node."""

    files: tuple[Path, ...] = ()
    format: str = "auto"
    column_map: Mapping[str, str] = field(default_factory=dict)
    rpc_url: str | None = None  # as written: a URL or "env:NAME"
    from_block: int | None = None
    to_block: int | None = None
    confirmations: int = 0
    fetch: str = "range"  # "range": every block of the range; "crawl": what the trace reaches
    cache: Path | None = None  # where fetched rows are kept between runs (rpc sources)


@dataclass(frozen=True)
class TraceSettings:
    """The ``[trace]`` table."""

    direction: str = "forward"
    max_hops: int = 8
    min_value: str | None = None  # in whole units of each asset, exact decimal text
    taint: str = "haircut"
    compare: bool = False
    stop_at: tuple[str, ...] = _DEFAULT_STOP
    since: str | None = None
    until: str | None = None
    max_degree: int | None = None
    follow_swaps: bool = True
    follow_peel_chains: bool = True


@dataclass(frozen=True)
class Case:
    """A validated case file."""

    path: Path
    title: str
    chain: str
    seed_files: tuple[Path, ...]
    seed_addresses: tuple[str, ...]
    data: DataSource
    label_files: tuple[Path, ...]
    heuristics: tuple[str, ...]
    heuristic_versions: Mapping[str, int]
    trace: TraceSettings
    output_dir: Path

    @property
    def base(self) -> Path:
        """The directory relative to which the case's paths are resolved."""
        return self.path.parent


_KEYS: Mapping[str, frozenset[str]] = {
    "case": frozenset({"title", "chain", "description"}),
    "seeds": frozenset({"files", "addresses"}),
    "data": frozenset(
        {
            "files",
            "format",
            "map",
            "rpc_url",
            "from_block",
            "to_block",
            "confirmations",
            "fetch",
            "cache",
        }
    ),
    "labels": frozenset({"files"}),
    "heuristics": frozenset({"enabled", "versions"}),
    "trace": frozenset(
        {
            "direction",
            "max_hops",
            "min_value",
            "taint",
            "compare",
            "stop_at",
            "since",
            "until",
            "max_degree",
            "follow_swaps",
            "follow_peel_chains",
        }
    ),
    "output": frozenset({"dir"}),
}


class _Reader:
    """Typed access to one table of the case file, with errors that name ``[table] key``."""

    def __init__(self, path: Path, name: str, table: Any) -> None:
        self.path = path
        self.name = name
        if not isinstance(table, dict):
            self.fail("must be a table", None, table, f"Write it as [{name}] with keys below it")
        self.table: dict[str, Any] = table
        unknown = sorted(set(table) - _KEYS[name])
        if unknown:
            known = ", ".join(sorted(_KEYS[name]))
            self.fail("unknown key", unknown[0], unknown[0], f"Keys of [{name}] are: {known}")

    def fail(self, problem: str, key: str | None, value: object, fix: str) -> None:
        where = f"[{self.name}] {key}" if key else f"[{self.name}]"
        raise CaseError(problem, source=self.path, field=where, value=value, fix=fix)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.fail(f"must be {names}", key, value, "See docs/cases.md for each key's type")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) for v in value):
            self.fail("must be a list of strings", key, value, "Quote each item")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            self.fail("unknown value", key, value, f"Use one of {', '.join(choices)}")
        return str(value)

    def files(self, key: str) -> tuple[Path, ...]:
        paths = []
        for item in self.strings(key):
            path = (self.path.parent / item).resolve()
            if not path.exists():
                self.fail("no such file or directory", key, item, f"Looked for {path}")
            paths.append(path)
        return tuple(paths)


def load_case(path: str | Path) -> Case:
    """Parse and validate a case file.

    Raises
    ------
    CaseError
        For a malformed file, an unknown table or key, a bad value, a missing file, or both
        ``files`` and ``rpc_url`` under ``[data]``; the message names the key.
    """
    path = Path(path)
    if not path.is_file():
        msg = "no such case file"
        raise CaseError(msg, value=str(path), fix="Pass the path of a case.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        msg = f"not valid TOML ({e})"
        raise CaseError(msg, source=path, fix="Fix the syntax; see docs/cases.md") from e
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        msg = "unknown table"
        fix = f"Tables are: {', '.join('[' + k + ']' for k in _KEYS)}"
        raise CaseError(msg, source=path, field=f"[{unknown[0]}]", value=unknown[0], fix=fix)
    part = {name: _Reader(path, name, raw.get(name, {})) for name in _KEYS}

    case = part["case"]
    title = case.get("title", str, path.parent.name)
    chain = case.get("chain", str, "ethereum")
    if chain not in EVM_CHAINS | UTXO_CHAINS:
        chains = ", ".join(sorted(EVM_CHAINS | UTXO_CHAINS))
        case.fail("unknown chain", "chain", chain, f"Use one of {chains}")

    seeds = part["seeds"]
    addresses = []
    for item in seeds.strings("addresses"):
        try:
            addresses.append(normalize(item, chain))
        except InputError as e:
            seeds.fail(e.problem, "addresses", item, e.fix or "")
    seed_files = seeds.files("files")
    if not addresses and not seed_files:
        seeds.fail("no seeds", None, None, "Give [seeds] files = [...] or addresses = [...]")

    data = _data_source(part["data"])
    labels = part["labels"].files("files")

    heur = part["heuristics"]
    enabled = heur.strings("enabled")
    versions = heur.get("versions", dict, {})
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in versions.values()):
        heur.fail("versions must be integers", "versions", versions, "Write name = 1")

    trace = _trace_settings(part["trace"])
    out = part["output"].get("dir", str, "out")
    return Case(
        path=path.resolve(),
        title=title,
        chain=chain,
        seed_files=seed_files,
        seed_addresses=tuple(addresses),
        data=data,
        label_files=labels,
        heuristics=enabled,
        heuristic_versions=dict(versions),
        trace=trace,
        output_dir=(path.parent / out).resolve(),
    )


def _data_source(data: _Reader) -> DataSource:
    has_files = "files" in data.table
    has_rpc = "rpc_url" in data.table
    if has_files == has_rpc:
        problem = "two data sources" if has_files else "no data source"
        data.fail(problem, None, None, 'Give exactly one of files = [...] or rpc_url = "..."')
    column_map = data.get("map", dict, {})
    if not all(isinstance(v, str) for v in column_map.values()):
        data.fail("map values must be strings", "map", column_map, 'Write from = "From"')
    blocks = {}
    for key in ("from_block", "to_block", "confirmations"):
        value = data.get(key, int, None)
        if value is not None and value < 0:
            data.fail("must be >= 0", key, value, "Block numbers are non-negative")
        blocks[key] = value
    if has_rpc:
        url = data.get("rpc_url", str)
        cache = data.get("cache", str, "rpc-cache")
        return DataSource(
            rpc_url=url,
            from_block=blocks["from_block"],
            to_block=blocks["to_block"],
            confirmations=blocks["confirmations"] or 0,
            fetch=data.choice("fetch", ("range", "crawl"), "range"),
            cache=(data.path.parent / cache).resolve(),
        )
    for key in ("fetch", "cache", "from_block", "to_block", "confirmations"):
        if key in data.table:
            data.fail("only an rpc source takes this key", key, data.table[key], "Remove it")
    return DataSource(
        files=data.files("files"),
        format=data.choice("format", _FILE_FORMATS, "auto"),
        column_map=dict(column_map),
    )


def _trace_settings(trace: _Reader) -> TraceSettings:
    max_hops = trace.get("max_hops", int, 8)
    if not 1 <= max_hops <= 64:
        trace.fail("out of range", "max_hops", max_hops, "Use 1 to 64")
    min_value = trace.get("min_value", (str, int, float), None)
    if min_value is not None:
        if isinstance(min_value, float):
            trace.fail("write it as a string", "min_value", min_value, 'Write min_value = "0.01"')
        text = str(min_value)
        whole, _, frac = text.partition(".")
        if not (whole or "0").isdigit() or (frac and not frac.isdigit()):
            trace.fail("not a decimal amount", "min_value", min_value, 'Write e.g. "0.01"')
        min_value = text
    stop_at = trace.strings("stop_at") if "stop_at" in trace.table else _DEFAULT_STOP
    for category in stop_at:
        if category not in CATEGORIES:
            trace.fail("unknown category", "stop_at", category, f"Use {', '.join(CATEGORIES)}")
    max_degree = trace.get("max_degree", int, None)
    if max_degree is not None:
        parse_uint(max_degree, field="max_degree")
    return TraceSettings(
        direction=trace.choice("direction", _DIRECTIONS, "forward"),
        max_hops=max_hops,
        min_value=min_value,
        taint=trace.choice("taint", _TAINTS, "haircut"),
        compare=trace.get("compare", bool, False),
        stop_at=tuple(stop_at),
        since=trace.get("since", str, None),
        until=trace.get("until", str, None),
        max_degree=max_degree,
        follow_swaps=trace.get("follow_swaps", bool, True),
        follow_peel_chains=trace.get("follow_peel_chains", bool, True),
    )
