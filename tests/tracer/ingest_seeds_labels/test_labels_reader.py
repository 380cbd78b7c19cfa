"""Labels from CSV files and GraphSense TagPacks.

Real data: ../shared/data/labels/graphsense-tagpacks (graphsense/graphsense-tagpacks @29ff93c8,
packs/, MIT; see SOURCES.md).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from tracer.errors import InputError, InvalidAddress, SchemaMismatch, UnknownFormat
from tracer.ingest.labels import (
    CATEGORY_SYNONYMS,
    category_for,
    confidence_for,
    read_labels,
    read_labels_with_notes,
)
from tracer.schema import CATEGORIES, LABELS

TORNADO_100ETH = "0xa160cdab225685da1d56aa342ad8841c3b53f291"  # Tornado Cash 100 ETH pool
BINANCE_ETH = "0xbe0eb53f46cd790cd13851d5eff43d12404d33e8"  # Binance reserve ("Binance 7")
RONIN = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"

# rows per pack after tags of currencies tracer cannot validate are skipped (and duplicates of
# the labels key collapse): tags in the pack -> rows
PACK_ROWS = {
    "binance_hack.yaml": (44, 44),
    "blender_io.yaml": (45, 45),
    "chaininfo.yaml": (122, 122),
    "exchange-wallets-binance.yaml": (86, 52),  # BEP2 25 + TRX 9 skipped
    "exchange-wallets-bitfinexcom.yaml": (135, 25),  # 100 other assets + 10 other forms
    "exchange-wallets-bybit.yaml": (8, 8),
    "exchange-wallets-cryptocom.yaml": (10, 10),
    "exchange-wallets-deribit.yaml": (18, 16),  # SOL 2
    "exchange-wallets-huobi.yaml": (58, 31),
    "exchange-wallets-kucoin.yaml": (59, 24),
    "exchange-wallets-okx.yaml": (36, 36),
    "exchange-wallets-swissborg.yaml": (14, 14),
    "hacks.yaml": (608, 608),
    "interpol-real_services.yaml": (10, 10),
    "lazarus.yaml": (21, 21),
    "lazarus2.yaml": (6, 6),
    "mixing_fc2021.yaml": (66, 66),
    "ofac.yaml": (572, 546),  # XMR, TRX, ZEC, ... and cashaddr/Tron forms
    "ronin_bridge.yaml": (6, 6),
    "service-wallets-checksig.yaml": (247, 247),
    "sinbad_io.yaml": (2, 2),
    "tornado_cash.yaml": (39, 38),  # one address listed twice (once with a trailing space)
    "walletexplorer.yaml": (386, 386),
}


@pytest.fixture(scope="module")
def packs_dir(shared_data: Path) -> Path:
    return shared_data / "labels" / "graphsense-tagpacks"


@pytest.fixture(scope="module")
def all_labels(packs_dir: Path) -> tuple[pl.DataFrame, list[str]]:
    return read_labels_with_notes(packs_dir)


def test_every_pack_loads(packs_dir: Path, all_labels: tuple[pl.DataFrame, list[str]]) -> None:
    labels, notes = all_labels
    assert labels.schema == LABELS
    assert sorted(p.name for p in packs_dir.glob("*.yaml")) == sorted(PACK_ROWS)
    for name, (tags, rows) in PACK_ROWS.items():
        text = (packs_dir / name).read_text()
        assert len(re.findall(r"(?m)^- ", text)) == tags, name  # each tag starts a "- " item
        one, _ = read_labels_with_notes(packs_dir / name)
        assert one.height == rows, name
    assert set(labels["category"]) <= set(CATEGORIES)
    assert labels["label"].null_count() == 0
    assert labels["source"].null_count() == 0
    # every skipped tag is accounted for in a note naming its pack
    assert any("ofac.yaml: skipped 16 addresses of assets" in n for n in notes)


def test_known_facts(all_labels: tuple[pl.DataFrame, list[str]]) -> None:
    labels, _ = all_labels
    tornado = labels.filter(pl.col("label") == "tornado.cash")
    assert tornado.height == 38
    assert set(tornado["category"]) == {"mixing_service"}
    assert set(tornado["chain"]) == {"ethereum"}
    pool = tornado.filter(pl.col("address") == TORNADO_100ETH).row(0, named=True)
    assert pool["confidence"] == 60  # authority_data
    assert pool["is_cluster_definer"] is False
    assert pool["lastmod"] == dt.date(2022, 8, 10)
    binance = labels.filter(pl.col("address") == BINANCE_ETH)
    assert set(binance["category"]) == {"exchange"}
    assert "binance reserve wallets ETH" in binance["label"].to_list()
    assert set(binance["confidence"]) == {50}  # service_data
    ronin = dict(labels.filter(pl.col("address") == RONIN).select("label", "category").rows())
    assert ronin["Ronin bridge exploiter"] == "perpetrator"  # no category, abuse: service_hack
    assert ronin["Lazarus group"] == "sanction"  # category user, abuse: sanction
    # ronin_bridge.yaml: no category, abuse service_hack; lazarus.yaml: user + abuse sanction
    lazarus = labels.filter(pl.col("label") == "Lazarus group")
    assert set(lazarus["category"]) == {"sanction"}  # category user, abuse: sanction
    assert lazarus.filter(pl.col("address") == "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak").height == 1
    # header fields are inherited, a tag's own fields override them
    bybit = labels.filter(pl.col("address") == "1GrwDkr33gT6LuumniYjKEGjTLhsL5kmqC").row(
        0, named=True
    )
    assert bybit["source"] == "https://www.bybithelp.com/bybitHC_Article?id=000001880"
    assert bybit["label"] == "Bybit reserve wallets"
    hack = labels.filter(pl.col("address") == "14QZ2wB8b8ZQNgb978Lwptdc8Vhv5aZQM2").row(
        0, named=True
    )
    assert hack["is_cluster_definer"] is True  # binance_hack.yaml sets it per tag
    # packs without confidence or lastmod leave them null rather than invent one
    ofac = labels.filter(pl.col("label") == "Asset listed under US Treasury OFAC Sanctions List")
    assert ofac["confidence"].null_count() == ofac.height
    assert labels.filter(pl.col("label") == "ChipMixer")["lastmod"].null_count() > 0


def test_bep20_and_matic_map_to_evm_chains(all_labels: tuple[pl.DataFrame, list[str]]) -> None:
    labels, _ = all_labels
    counts = dict(labels.group_by("chain").len().iter_rows())
    assert counts["bsc"] == 16
    assert counts["polygon"] == 4
    assert counts["ethereum_classic"] == 2


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "address,label,category,chain,source,confidence,is_cluster_definer,lastmod\n"
        f"{TORNADO_100ETH},Tornado Cash 100 ETH,mixer,ETH,OFAC,authority_data,false,2022-08-08\n"
        f"{BINANCE_ETH},Binance 7,exchange,,,75,yes,\n"
        '134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak,"<script>alert(1)</script>",sanctioned,,,,,\n'
    )
    assert read_labels(path).rows() == [
        ("ethereum", TORNADO_100ETH, "Tornado Cash 100 ETH", "mixing_service", "OFAC", 60, False,
         dt.date(2022, 8, 8)),
        ("ethereum", BINANCE_ETH, "Binance 7", "exchange", "labels.csv", 75, True, None),
        # untrusted text is stored exactly as given; the report escapes it
        ("bitcoin", "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak", "<script>alert(1)</script>", "sanction",
         "labels.csv", None, None, None),
    ]  # fmt: skip


def test_synonyms_map_into_the_closed_set() -> None:
    assert set(CATEGORY_SYNONYMS.values()) <= set(CATEGORIES)
    assert category_for("bridge") == "defi_bridge"
    assert category_for("DEX") == "defi_dex"
    assert category_for("Hot Wallet") == "hot_wallet"
    assert category_for("gambling") is None
    assert category_for("gambling", strict=False) == "other"
    assert confidence_for("unknown") == 5
    assert confidence_for("ownership") == 100
    assert confidence_for(101) is None
    assert confidence_for("high") is None


def test_unknown_category_lists_the_categories(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(f"address,label,category\n{BINANCE_ETH},Binance,casino\n")
    with pytest.raises(InputError) as info:
        read_labels(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2, field 'category': unknown category: 'casino'. Use one of")
    for category in CATEGORIES:
        assert category in message
    assert "mixer->mixing_service" in message


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ("address,label\n0xab,x\n", SchemaMismatch, r":1, field 'category': missing column"),
        (
            "address,label,category\n0x4736dCf1b7A3d580672CcE6E7c65cd5cc9cFBa9d,x,mixer\n",
            InvalidAddress,
            r":2, field 'address': bad EIP-55 checksum",
        ),
        (
            "address,label,category\n0x12,x,mixer\n",
            InvalidAddress,
            r":2, field 'address': not an EVM",
        ),
        (
            f"address,label,category\n{BINANCE_ETH},,exchange\n",
            InputError,
            r":2, field 'label': empty",
        ),
        (
            f"address,label,category,confidence\n{BINANCE_ETH},x,exchange,high\n",
            InputError,
            r"field 'confidence': not a confidence: 'high'",
        ),
        (
            f"address,label,category,lastmod\n{BINANCE_ETH},x,exchange,08/08/2022\n",
            InputError,
            r"field 'lastmod': not a date: '08/08/2022'. Write dates as YYYY-MM-DD",
        ),
        (
            f"address,label,category,is_cluster_definer\n{BINANCE_ETH},x,exchange,maybe\n",
            InputError,
            r"field 'is_cluster_definer': not a boolean",
        ),
        ("address,label,category\n", InputError, "no rows after the header"),
        ("", InputError, "empty file"),
    ],
)
def test_csv_errors(tmp_path: Path, body: str, error: type[Exception], match: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(body)
    with pytest.raises(error, match=match):
        read_labels(path)


# --- TagPack errors ----------------------------------------------------------------------------


def _pack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(text)
    return path


def test_tagpack_tag_overrides_and_other_currency(tmp_path: Path) -> None:
    path = _pack(
        tmp_path,
        "title: t\ncreator: me\ncurrency: ETH\ncategory: exchange\nconfidence: web_crawl\n"
        "lastmod: 2024-01-02\nlabel: ex\ntags:\n"
        f"- address: '{BINANCE_ETH}'\n"
        f"- address: '{TORNADO_100ETH}'\n  category: mixing_service\n  confidence: 95\n"
        "  label: tc\n  lastmod: 1641081600\n"
        "- address: TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre\n  currency: TRX\n"
        "- address: '0xd6216fc19db775df9774a6e33526131da7d19a2c'\n  category: gambling\n",
    )
    labels, notes = read_labels_with_notes(path)
    assert labels.select("address", "label", "category", "confidence", "lastmod").rows() == [
        (BINANCE_ETH, "ex", "exchange", 20, dt.date(2024, 1, 2)),
        (TORNADO_100ETH, "tc", "mixing_service", 95, dt.date(2022, 1, 2)),
        ("0xd6216fc19db775df9774a6e33526131da7d19a2c", "ex", "other", 20, dt.date(2024, 1, 2)),
    ]
    assert notes == [f"{path}: skipped 1 address of assets tracer cannot validate (TRX 1)"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("title: t\ntags: []\n", "TagPack without tags"),
        ("title: t\n", "not a TagPack"),
        ("title: t\ntags:\n- label: x\n", r"field 'tags\[0\].address': missing or non-string"),
        (
            "currency: ETH\ntags:\n- address: 0x098b716b8aaf21512996dc57eb0615e2383e2f96\n",
            r"tags\[0\].address': missing or non-string address: \d+. Give every tag an address, "
            "quoted",
        ),
        (
            f"currency: ETH\ntags:\n- address: '{BINANCE_ETH}'\n"
            "- address: '0xBE0eb53F46cd790cd13851d5EFf43D12404d33E8'\n",
            r"pack.yaml, field 'tags\[1\].address': bad EIP-55 checksum",
        ),
        (
            f"currency: ETH\nconfidence: sure\ntags:\n- address: '{BINANCE_ETH}'\n",
            r"field 'tags\[0\].confidence': unknown confidence: 'sure'",
        ),
        ("title: [unclosed\n", r"pack.yaml:\d+: not valid YAML"),
    ],
)
def test_tagpack_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_labels(_pack(tmp_path, text))


def test_tagpack_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = _pack(tmp_path, "!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_labels(path)


def test_directory_mixes_csv_and_packs_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(f"currency: ETH\nlabel: p\ntags:\n- address: '{RONIN}'\n")
    (tmp_path / "a.csv").write_text(f"address,label,category\n{BINANCE_ETH},Binance 7,cex\n")
    (tmp_path / "README.md").write_text("not a label file")
    labels = read_labels(tmp_path)
    assert labels.select("address", "category").rows() == [
        (BINANCE_ETH, "exchange"),
        (RONIN, "other"),
    ]


def test_unknown_format_and_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "labels.dat"
    path.write_text("just some text\n")
    with pytest.raises(UnknownFormat, match="Pass --format, one of csv, tagpack"):
        read_labels(path)
    with pytest.raises(UnknownFormat, match="unknown labels format"):
        read_labels(path, fmt="xlsx")
    with pytest.raises(InputError, match="no such file or directory"):
        read_labels(tmp_path / "missing.csv")
