"""Run a case file end to end, write its outputs and manifest, and verify a past run.

``investigate`` validates the case (:mod:`tracer.casefile`), ingests its data into the output's
own data directory, loads seeds and labels, clusters, traces and reports, then writes
``manifest.json``. Every output is written under a temporary directory that replaces the output
directory only at the end, so a failed run leaves the previous outputs untouched. Nothing in
the outputs depends on the clock, the machine or the output path: the same case gives
byte-identical files.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

import heuristics
from tracer import __version__
from tracer.casefile import Case, load_case
from tracer.errors import CaseError, DataMissing, HeuristicVersionMismatch, InputError
from tracer.ingest.files import ingest_files, sha256_file
from tracer.ingest.labels import read_labels
from tracer.ingest.seeds import read_seeds
from tracer.redact import redact_url
from tracer.report import render_report, write_exports
from tracer.schema import TABLES
from tracer.store import Store
from tracer.trace import TraceSpec, crawl_limits, trace_store, write_trace_outputs

__all__ = ["RunResult", "VerifyReport", "investigate", "verify"]

MANIFEST = "manifest.json"
_DEPENDENCIES = ("polars", "pyarrow", "web3", "pyvis", "networkx", "stix2", "click")
# The outputs whose hashes the manifest records and verify compares, in a fixed order.
OUTPUTS = (
    "report.html",
    "exposure.csv",
    "flows.csv",
    "paths.csv",
    "held.csv",
    "nodes.csv",
    "compare.csv",
    "clusters.csv",
    "links.csv",
    "trace.json",
    "graph.json",
    "graph.graphml",
    "graph.gexf",
    "stix.json",
)


@dataclass(frozen=True)
class RunResult:
    """What ``investigate`` wrote."""

    out_dir: Path
    report: Path
    outputs: Mapping[str, str]  # name -> sha256
    notes: Sequence[str] = ()


@dataclass
class VerifyReport:
    """What ``verify`` found: empty lists mean the run reproduces."""

    changed_inputs: list[str] = field(default_factory=list)
    missing_inputs: list[str] = field(default_factory=list)
    changed_outputs: list[str] = field(default_factory=list)
    rerun_differs: list[str] = field(default_factory=list)
    chain_mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything matched."""
        return not any(asdict(self).values())


def investigate(
    case_path: str | Path,
    *,
    out: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunResult:
    """Run the case file at ``case_path`` and write its outputs (default: the case's dir).

    Raises
    ------
    CaseError
        The case file is malformed (before anything is read or written).
    """
    case = load_case(case_path)
    _check_versions(case)
    out_dir = Path(out).resolve() if out is not None else case.output_dir
    env = os.environ if environ is None else environ
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        notes = _run(case, work, env)
        manifest = _manifest(case, work, out_dir, env)
        _write_json(work / MANIFEST, manifest)
        _replace_dir(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return RunResult(
        out_dir=out_dir,
        report=out_dir / "report.html",
        outputs=manifest["outputs"],
        notes=notes,
    )


def _check_versions(case: Case) -> None:
    for name in case.heuristics:
        if name not in heuristics.REGISTRY:
            known = ", ".join(sorted(heuristics.REGISTRY))
            msg = "unknown heuristic"
            raise CaseError(
                msg, source=case.path, field="[heuristics] enabled", value=name, fix=f"Use {known}"
            )
    for name, pinned in case.heuristic_versions.items():
        actual = heuristics.REGISTRY[name].version if name in heuristics.REGISTRY else None
        if actual != pinned:
            msg = f"the case pins version {pinned} but this tracer has {actual}"
            raise HeuristicVersionMismatch(
                msg,
                source=case.path,
                field=f"[heuristics.versions] {name}",
                value=pinned,
                fix="Run the tracer release the case was written for, or update the pin "
                "after reviewing the rule's changelog",
            )


def _run(case: Case, work: Path, env: Mapping[str, str]) -> list[str]:
    store = Store(work / "data")
    seeds = _seeds(case)
    notes = _ingest_data(case, store, seeds, env)
    labels = _labels(case)
    store.commit({"seeds": seeds, "labels": labels})
    links, clusters = _cluster(case, store)
    links.write_csv(work / "links.csv")
    clusters.write_csv(work / "clusters.csv")
    spec = _trace_spec(case)
    from tracer.clustering import peel_chain_tags

    result = trace_store(store, spec, peel_chains=peel_chain_tags(store))
    write_trace_outputs(result, work)
    render_report(work, title=case.title)
    write_exports(work, title=case.title)
    return notes


def _ingest_data(
    case: Case, store: Store, seeds: pl.DataFrame, env: Mapping[str, str]
) -> list[str]:
    source = case.data
    if source.rpc_url is not None:
        return _ingest_rpc(case, store, seeds, env)
    data_dirs = [p for p in source.files if _is_data_dir(p)]
    if data_dirs and (source.format in ("auto", "tracer")):
        if len(data_dirs) != len(source.files):
            msg = "mixes tracer data directories and exported files"
            raise CaseError(
                msg, source=case.path, field="[data] files", fix="List one kind of source"
            )
        for directory in data_dirs:
            source_store = Store(directory)
            # The addresses table is not copied: the store numbers the transfers' addresses.
            tables = [t for t in TABLES if t != "addresses" and source_store.has(t)]
            store.commit({t: source_store.scan(t) for t in tables})
        return []
    if source.format in ("auto", "tracer"):
        msg = "cannot tell the files' format"
        raise CaseError(
            msg,
            source=case.path,
            field="[data] format",
            value=source.format,
            fix="Set format to ethereum-etl, etherscan, bitcoin-etl or mapped",
        )
    ingest_files(
        store,
        source.files,
        fmt=source.format,
        chain=case.chain,
        options=dict(source.column_map),
    )
    return []


def _is_data_dir(path: Path) -> bool:
    return path.is_dir() and any((path / t).is_dir() for t in ("transfers", "transactions"))


def _ingest_rpc(case: Case, store: Store, seeds: pl.DataFrame, env: Mapping[str, str]) -> list[str]:
    """Fetch into the case's RPC cache (resumable, reused by the next run), then copy it in.

    ``fetch = "range"`` takes every block of the range (what clustering over the whole
    neighbourhood needs); ``fetch = "crawl"`` only the transactions a trace from the seeds can
    reach (:func:`tracer.ingest.crawl.crawl`), which is far less on mainnet.
    """
    from tracer.ingest.crawl import crawl  # imported here: web3 is slow to import
    from tracer.ingest.rpc import ingest_rpc

    url = resolve_rpc_url(case, env)
    source = case.data
    if source.from_block is None or source.to_block is None:
        msg = "an rpc source needs from_block and to_block for a reproducible case"
        raise CaseError(
            msg,
            source=case.path,
            field="[data] to_block",
            fix="Pin the block range the investigation covers",
        )
    assert source.cache is not None  # set for every rpc source
    cache = Store(source.cache)
    if source.fetch == "crawl":
        starts = seeds["address"].to_list()
        limits = crawl_limits(
            _labels(case).filter(pl.col("chain") == case.chain),
            seeds=starts,
            stop_at=case.trace.stop_at,
            follow_swaps=case.trace.follow_swaps,
        )
        crawl(
            cache,
            url,
            starts,
            direction=case.trace.direction,  # type: ignore[arg-type]
            max_hops=case.trace.max_hops,
            since_block=source.from_block,
            until_block=source.to_block,
            chain=case.chain,
            confirmations=source.confirmations,
            venues=limits.venues,
            stops=limits.stops,
        )
    else:
        ingest_rpc(
            cache,
            url,
            from_block=source.from_block,
            to_block=source.to_block,
            chain=case.chain,
            confirmations=source.confirmations,
        )
    _remember_chain_id(source.cache, url)
    lo, hi = source.from_block, source.to_block
    tables = {}
    for table in _RPC_TABLES:
        frame = cache.scan(table)
        if "block_number" in frame.collect_schema():
            frame = frame.filter(pl.col("block_number").is_between(lo, hi))
        tables[table] = frame.collect()
    store.commit(tables)
    return []


def _remember_chain_id(cache: Path, url: str) -> None:
    """Ask the node its chain id once; the cache keeps it for runs that make no RPC call."""
    from tracer.ingest.rpc import open_client

    path = cache / _CHAIN_ID
    if not path.is_file():
        with open_client(url) as client:
            chain_id = int(client.call("eth_chainId"), 16)
        partial = path.with_suffix(".partial")  # renamed into place: never half-written
        partial.write_text(f"{chain_id}\n", encoding="utf-8")
        partial.replace(path)


_CHAIN_ID = "chain_id"
_RPC_TABLES = ("blocks", "transactions", "transfers", "approvals", "tokens", "contracts")


def resolve_rpc_url(case: Case, env: Mapping[str, str]) -> str:
    """The case's RPC URL, reading ``env:NAME`` from the environment."""
    raw = case.data.rpc_url or ""
    if raw.startswith("env:"):
        name = raw[4:]
        if not env.get(name):
            msg = f"the case reads its RPC URL from ${name}, which is not set"
            raise DataMissing(msg + f": export {name}=<your node URL>")
        return env[name]
    return raw


def _seeds(case: Case) -> pl.DataFrame:
    frames = [read_seeds(path, chain=case.chain) for path in case.seed_files]
    if case.seed_addresses:
        n = len(case.seed_addresses)
        frames.append(
            pl.DataFrame(
                {
                    "chain": [case.chain] * n,
                    "address": list(case.seed_addresses),
                    "attribution": [None] * n,
                    "incident": [case.title] * n,
                    "source": [case.path.name] * n,
                    "source_date": [None] * n,
                    "transaction_hash": [None] * n,
                },
                schema=TABLES["seeds"],
            )
        )
    seeds = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=TABLES["seeds"])
    seeds = seeds.filter(pl.col("chain") == case.chain)
    if seeds.height == 0:
        msg = f"no {case.chain} seeds"
        raise CaseError(
            msg, source=case.path, field="[seeds]", fix="Check the seed files and the case chain"
        )
    return seeds


def _labels(case: Case) -> pl.DataFrame:
    frames = [read_labels(path) for path in case.label_files]
    if not frames:
        return pl.DataFrame(schema=TABLES["labels"])
    return pl.concat(frames, how="vertical")


def _cluster(case: Case, store: Store) -> tuple[pl.DataFrame, pl.DataFrame]:
    from tracer.clustering import cluster_store

    outcome = cluster_store(store, heuristics=case.heuristics)
    return outcome.links, outcome.clusters


def _trace_spec(case: Case) -> TraceSpec:
    settings = case.trace
    return TraceSpec(
        seeds=(),  # the seeds table: a seed with a theft transaction seeds only that inflow
        direction=settings.direction,
        max_hops=settings.max_hops,
        min_value=settings.min_value,
        taint=settings.taint,
        compare=settings.compare,
        stop_at=settings.stop_at,
        since=_time(case, "since", settings.since),
        until=_time(case, "until", settings.until),
        max_degree=settings.max_degree if settings.max_degree is not None else 10_000,
        chain=case.chain,
        follow_swaps=settings.follow_swaps,
        follow_peel_chains=settings.follow_peel_chains,
    )


def _time(case: Case, key: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        msg = "not an ISO 8601 time"
        fix = 'Write e.g. "2022-03-23T00:00:00Z"'
        raise CaseError(msg, source=case.path, field=f"[trace] {key}", value=text, fix=fix) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the manifest -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return sha256_file(path)


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _inputs(case: Case) -> list[dict[str, str]]:
    paths: list[Path] = [case.path]
    for group in (case.seed_files, case.label_files, case.data.files):
        for path in group:
            if _is_data_dir(path):
                paths += sorted(p for p in path.rglob("*.parquet") if p.is_file())
            elif path.is_dir():  # every file below it: CSV, JSON lines, TagPack YAML...
                paths += sorted(p for p in path.rglob("*") if p.is_file())
            else:
                paths.append(path)
    seen: dict[str, str] = {}
    for path in paths:
        seen[_relative(path, case.base)] = _sha256(path)
    return [{"path": p, "sha256": h} for p, h in sorted(seen.items())]


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base)).as_posix()


def _chain_facts(case: Case, work: Path) -> dict[str, Any]:
    """Chain id (known for an RPC source) and the block bounds of the transfers used."""
    chain_id = None
    if case.data.cache is not None and (case.data.cache / _CHAIN_ID).is_file():
        chain_id = int((case.data.cache / _CHAIN_ID).read_text(encoding="utf-8"))
    store = Store(work / "data")
    blocks = store.scan("transfers").select(
        pl.col("block_number").min().alias("from_block"),
        pl.col("block_number").max().alias("to_block"),
    )
    row = blocks.collect().row(0, named=True)
    return {"chain_id": chain_id, "from_block": row["from_block"], "to_block": row["to_block"]}


def _manifest(case: Case, work: Path, out_dir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    outputs = {name: _sha256(work / name) for name in OUTPUTS if (work / name).exists()}
    rpc = None
    if case.data.rpc_url is not None:
        raw = case.data.rpc_url
        rpc = raw if raw.startswith("env:") else redact_url(raw)
    return {
        "tool": {"name": "tracer", "version": __version__},
        "python": platform.python_version(),
        "dependencies": {name: _package_version(name) for name in _DEPENDENCIES},
        "case": {
            "file": _relative(case.path, out_dir),
            "title": case.title,
            "chain": case.chain,
            "spec": _case_spec(case),
        },
        "inputs": _inputs(case),
        "heuristics": {name: heuristics.REGISTRY[name].version for name in sorted(case.heuristics)},
        "chain": {"name": case.chain, "rpc_url": rpc, **_chain_facts(case, work)},
        "outputs": outputs,
    }


def _case_spec(case: Case) -> dict[str, Any]:
    spec = asdict(case.trace)
    spec["stop_at"] = list(case.trace.stop_at)
    return {
        "heuristics": list(case.heuristics),
        "heuristic_versions": dict(case.heuristic_versions),
        "trace": spec,
        "data_format": case.data.format,
        "from_block": case.data.from_block,
        "to_block": case.data.to_block,
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` with renames only (no half-copied directory)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    new.rename(target)
    target.chmod(0o755)  # mkdtemp made it private
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- verify -----------------------------------------------------------------------------------


def verify(
    out_dir: str | Path,
    *,
    case_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> VerifyReport:
    """Check a past run: its inputs and outputs against the manifest, and a fresh re-run.

    ``case_file`` is the run's case file when the output directory has moved since (the
    manifest records it relative to the output directory); its hash is checked like every
    other input's.

    Returns
    -------
    VerifyReport
        Names of inputs whose hash changed or that are missing, outputs whose file differs
        from the manifest, and outputs the re-run produces differently.
    """
    out_dir = Path(out_dir).resolve()
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        msg = "no manifest.json"
        raise InputError(
            msg, value=str(out_dir), fix="Pass the output directory of tracer investigate"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        recorded_case = str(manifest["case"]["file"])
        recorded_inputs = manifest["inputs"]
        recorded_outputs: dict[str, str] = manifest["outputs"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        msg = f"manifest.json is malformed ({e})"
        raise InputError(msg, source=manifest_path, fix="Re-run tracer investigate") from e
    if case_file is None:
        case_file = out_dir / recorded_case
        if not case_file.is_file():
            msg = f"the case file recorded in manifest.json, {recorded_case}, is not there"
            raise InputError(
                msg,
                source=manifest_path,
                field="case.file",
                value=str(case_file),
                fix="The output directory has moved: pass --case CASE.toml (the run's case file)",
            )
    case_file = Path(case_file).resolve()
    report = VerifyReport()
    base = case_file.parent
    for item in recorded_inputs:
        path = base / item["path"]
        if not path.is_file():
            report.missing_inputs.append(item["path"])
        elif _sha256(path) != item["sha256"]:
            report.changed_inputs.append(item["path"])
    for name, digest in sorted(recorded_outputs.items()):
        path = out_dir / name
        if not path.is_file() or _sha256(path) != digest:
            report.changed_outputs.append(name)
    if report.missing_inputs:
        return report
    with tempfile.TemporaryDirectory(prefix="tracer-verify-") as tmp:
        rerun = investigate(case_file, out=Path(tmp) / "out", environ=environ)
        for name in sorted(set(recorded_outputs) | set(rerun.outputs)):
            if recorded_outputs.get(name) != rerun.outputs.get(name):
                report.rerun_differs.append(name)
        with contextlib.suppress(ImportError):
            report.chain_mismatches += _check_flows_on_chain(case_file, out_dir, environ)
    return report


def _check_flows_on_chain(
    case_file: Path, out_dir: Path, environ: Mapping[str, str] | None
) -> list[str]:
    case = load_case(case_file)
    if case.data.rpc_url is None:
        return []
    from tracer.ingest.onchain import check_flows

    url = resolve_rpc_url(case, os.environ if environ is None else environ)
    flows = pl.read_csv(out_dir / "flows.csv", infer_schema=False)
    return check_flows(url, flows)
