"""Seeds from lists, CSV, JSON and OFAC's SDN formats.

Real data: ../shared/data/seeds (OFAC / FBI attributions, see SOURCES.md) and
../shared/data/ofac_format (verbatim SDN.CSV / SDN_COMMENTS.CSV excerpts, moov-io/watchman test
data, Apache-2.0). SDN.XML and sdn_advanced.xml in data/ are hand-written (see their headers).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tracer.addresses import normalize
from tracer.errors import InputError, InvalidAddress, SchemaMismatch, UnknownFormat
from tracer.ingest.seeds import (
    chain_for_code,
    detect_format,
    read_seeds,
    read_seeds_with_notes,
)
from tracer.schema import SEEDS

DATA = Path(__file__).parent / "data"
RONIN = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"  # Lazarus Group, OFAC SDN (Ronin, 2022)
TIAN_BTC = "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak"  # TIAN, Yinyin, OFAC SDN (2020)
TIAN_BTC_2 = "15YK647qtoZQDzNrvY6HJL6QwXduLHfT28"
LAZARUS_2 = "0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b"  # Ronin, OFAC 2022-04-22


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by("chain").len().sort("chain").iter_rows())


# --- real seed files ---------------------------------------------------------------------------


def test_every_dprk_address_loads(shared_data: Path) -> None:
    path = shared_data / "seeds" / "dprk_attributed_addresses.csv"
    seeds, notes = read_seeds_with_notes(path)
    assert seeds.schema == SEEDS
    assert seeds.height == 128
    assert _counts(seeds) == {"bitcoin": 50, "bsc": 5, "ethereum": 71, "polygon": 2}
    # Each address is the file's address normalised for its chain: nothing dropped or altered.
    source = pl.read_csv(path, infer_schema=False)
    expected = {
        normalize(a, chain_for_code(c) or "?")
        for c, a in source.select("chain", "address").iter_rows()
    }
    assert set(seeds["address"]) == expected
    ronin = seeds.filter(pl.col("address") == RONIN.lower()).row(0, named=True)
    assert ronin["attribution"] == "Lazarus Group (OFAC SDN, program DPRK3)"
    assert ronin["incident"] == "Ronin bridge hack 2022-03-23 ($625M)"
    assert ronin["source_date"] == dt.date(2022, 4, 14)
    assert ronin["source"].startswith("OFAC SDN list, LAZARUS GROUP entry")
    # Five rows say "added after 2024-08-20 (exact date not verified)": kept, dated null, noted.
    assert seeds["source_date"].null_count() == 5
    assert len(notes) == 1
    assert "5 rows kept without a source_date" in notes[0]


def test_dprk_chain_filter_keeps_one_chain(shared_data: Path) -> None:
    path = shared_data / "seeds" / "dprk_attributed_addresses.csv"
    btc, notes = read_seeds_with_notes(path, chain="bitcoin")
    assert _counts(btc) == {"bitcoin": 50}
    assert any("skipped 71 addresses: chain ethereum, not --chain bitcoin" in n for n in notes)
    assert _counts(read_seeds(path, chain="BSC")) == {"bsc": 5}


def test_fbi_bybit_list(shared_data: Path) -> None:
    seeds = read_seeds(shared_data / "seeds" / "fbi_ic3_psa250226_bybit_eth.csv")
    assert _counts(seeds) == {"ethereum": 51}
    assert set(seeds["attribution"]) == {"TraderTraitor/DPRK"}
    assert set(seeds["source"]) == {"FBI IC3 PSA250226"}
    assert set(seeds["source_date"]) == {dt.date(2025, 2, 26)}


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("ofac_eth_ultrasoundmoney_latest.csv", 97),
        ("ofac_eth_ultrasoundmoney_dated_incl_tornado_2024-08-20.csv", 157),
    ],
)
def test_ultrasoundmoney_lists(shared_data: Path, name: str, rows: int) -> None:
    path = shared_data / "seeds" / name
    seeds = read_seeds(path)
    assert seeds.height == rows == pl.read_csv(path).height
    assert _counts(seeds) == {"ethereum": rows}
    assert seeds["attribution"].null_count() == 0  # the "name" column
    assert seeds.filter(pl.col("address") == RONIN.lower())["attribution"].to_list() == [
        "LAZARUS GROUP"
    ]
    assert set(seeds["source"]) == {name}  # no source column: the file is the source


def test_dated_list_reads_date_added(shared_data: Path) -> None:
    seeds = read_seeds(
        shared_data / "seeds" / "ofac_eth_ultrasoundmoney_dated_incl_tornado_2024-08-20.csv"
    )
    first = seeds.row(0, named=True)
    assert first["address"] == "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"
    assert first["source_date"] == dt.date(2020, 9, 10)
    assert first["attribution"] == "ANDREYEV, Anton Nikolaeyvich"


def test_0xb10c_lists_take_the_asset_from_the_file_name(shared_data: Path) -> None:
    lists = shared_data / "seeds" / "ofac_0xB10C_lists"
    xbt = read_seeds(lists / "sanctioned_addresses_XBT.txt")
    assert set(xbt["chain"]) == {"bitcoin"}
    assert TIAN_BTC in xbt["address"].to_list()
    ltc = read_seeds(lists / "sanctioned_addresses_LTC.txt")
    assert _counts(ltc) == {"litecoin": 10}
    etc = read_seeds(lists / "sanctioned_addresses_ETC.txt")
    assert _counts(etc) == {"ethereum_classic": 1}
    xmr, notes = read_seeds_with_notes(lists / "sanctioned_addresses_XMR.txt")
    assert xmr.height == 0
    assert notes == [f"{lists / 'sanctioned_addresses_XMR.txt'}: skipped 3 addresses of assets "
                     "tracer cannot validate (XMR 3)"]  # fmt: skip


def test_0xb10c_directory(shared_data: Path) -> None:
    seeds, notes = read_seeds_with_notes(shared_data / "seeds" / "ofac_0xB10C_lists")
    assert _counts(seeds) == {
        "arbitrum": 1,
        "bitcoin": 441,  # 434 XBT + 7 Omni-USDT
        "bitcoin_cash": 1,  # the one legacy address; 6 cashaddr are skipped
        "bsc": 1,
        "ethereum": 162,  # 152 ETH + USDT/USDC 0x addresses not in the ETH list
        "ethereum_classic": 1,
        "litecoin": 10,
    }
    text = "\n".join(notes)
    assert "sanctioned_addresses_BCH.txt: skipped 6 addresses: Bitcoin Cash cashaddr" in text
    assert "sanctioned_addresses_USDT.txt: skipped 11 addresses: Tron address" in text
    # A Tron address filed under XBT in OFAC's data is skipped, not an error.
    assert "sanctioned_addresses_XBT.txt: skipped 1 address: Tron address under XBT" in text


def test_ethereum_list_keeps_the_chain_filter(shared_data: Path) -> None:
    eth = shared_data / "seeds" / "ofac_0xB10C_lists" / "sanctioned_addresses_ETH.txt"
    assert read_seeds(eth, chain="bitcoin").height == 0
    assert read_seeds(eth, chain="ethereum").height == 152


# --- txt / csv / json written here ------------------------------------------------------------


def test_txt_guesses_chains_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(
        "# Ronin exploiter and a launderer\n\n"
        f"  {RONIN}   # checksummed\n"
        f"{TIAN_BTC}\n"
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\n"
    )
    seeds = read_seeds(path)
    assert seeds.select("chain", "address").rows() == [
        ("ethereum", RONIN.lower()),
        ("bitcoin", TIAN_BTC),
        ("bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ]
    assert set(seeds["source"]) == {"seeds.txt"}


def test_txt_chain_option_names_an_evm_chain(tmp_path: Path) -> None:
    path = tmp_path / "bsc.txt"
    path.write_text(f"{RONIN}\n{TIAN_BTC}\n")
    seeds, notes = read_seeds_with_notes(path, chain="bsc")
    assert seeds.select("chain", "address").rows() == [("bsc", RONIN.lower())]
    assert notes == [f"{path}: skipped 1 address: chain bitcoin, not --chain bsc"]


def test_csv_with_every_column(tmp_path: Path) -> None:
    path = tmp_path / "case.csv"
    tx = "0x" + "ab" * 32
    path.write_text(
        "Address,Chain,Attribution,Incident,Source,Source Date,Transaction Hash\n"
        f"{RONIN},ETH,Lazarus Group,Ronin,OFAC,2022-04-14,{tx.upper().replace('0X', '0x')}\n"
        f'{TIAN_BTC},XBT,"TIAN, Yinyin",,OFAC,2020-03-02T00:00:00Z,\n'
    )
    seeds = read_seeds(path)
    assert seeds.rows() == [
        ("ethereum", RONIN.lower(), "Lazarus Group", "Ronin", "OFAC", dt.date(2022, 4, 14), tx),
        ("bitcoin", TIAN_BTC, "TIAN, Yinyin", None, "OFAC", dt.date(2020, 3, 2), None),
    ]


def test_csv_duplicates_collapse_on_the_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"address,incident\n{RONIN}\n{RONIN.lower()},Ronin\n{RONIN},\n")
    assert read_seeds(path)["incident"].to_list() == [None, "Ronin"]


def test_json_strings_and_objects(tmp_path: Path) -> None:
    path = tmp_path / "seeds.json"
    path.write_text(
        json.dumps(
            [
                RONIN,
                {
                    "address": TIAN_BTC,
                    "chain": "bitcoin",
                    "name": "TIAN, Yinyin",
                    "date": "2020-03-02",
                },
            ]
        )
    )
    seeds = read_seeds(path)
    assert seeds.select("chain", "address", "attribution", "source_date").rows() == [
        ("ethereum", RONIN.lower(), None, None),
        ("bitcoin", TIAN_BTC, "TIAN, Yinyin", dt.date(2020, 3, 2)),
    ]
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"seeds": [{"address": RONIN, "incident": "Ronin"}]}))
    assert read_seeds(wrapped)["incident"].to_list() == ["Ronin"]


# --- OFAC formats ------------------------------------------------------------------------------


def test_sdn_csv_joins_comments_by_entity(shared_data: Path, tmp_path: Path) -> None:
    excerpts = shared_data / "ofac_format"
    sdn = excerpts / "SDN.CSV_excerpt_moov-watchman_bench.csv"
    seeds, notes = read_seeds_with_notes(sdn)
    assert detect_format(sdn) == "ofac-csv"
    assert _counts(seeds) == {"bitcoin": 26}
    by_entity = dict(seeds.group_by("attribution").len().sort("attribution").iter_rows())
    # LI Jiadong's remarks are cut at 1,000 characters mid-list; SDN_COMMENTS.CSV holds the
    # rest ("hone Number ..." after "; P"), so his addresses in SDN.CSV all survive intact.
    assert by_entity == {"LI, Jiadong": 12, "TIAN, Yinyin": 8, "YAN, Xiaobing": 6}
    tian = seeds.filter(pl.col("attribution") == "TIAN, Yinyin").row(0, named=True)
    assert tian["address"] == TIAN_BTC
    assert tian["source"] == "OFAC SDN [DPRK3] [CYBER2]"
    assert tian["source_date"] is None  # SDN.CSV carries no publication date
    assert set(seeds.filter(pl.col("attribution") == "YAN, Xiaobing")["source"]) == {
        "OFAC SDN [SDNTK]"
    }
    # The comments excerpt also holds entities whose SDN.CSV rows are not in the excerpt.
    assert len(notes) == 1
    assert "4 SDN_COMMENTS.CSV entries without an SDN.CSV row" in notes[0]
    # The same addresses as the consolidated DPRK file attributes to these two launderers.
    dprk = pl.read_csv(shared_data / "seeds" / "dprk_attributed_addresses.csv")
    launderers = dprk.filter(pl.col("attribution").str.contains("TIAN, Yinyin|LI, Jiadong"))
    ofac = seeds.filter(pl.col("attribution") != "YAN, Xiaobing")
    assert set(ofac["address"]) <= set(launderers["address"])


def test_sdn_csv_without_comments_leaves_out_a_cut_address(
    shared_data: Path, tmp_path: Path
) -> None:
    sdn = tmp_path / "SDN.CSV"
    shutil.copy(shared_data / "ofac_format" / "SDN.CSV_excerpt_moov-watchman_bench.csv", sdn)
    seeds, notes = read_seeds_with_notes(sdn, fmt="ofac-csv")
    # TIAN's remarks end mid-alias (no address cut); LI's end with "; P": nothing is cut either,
    # so every address still loads; the cut-off only matters when an address is the tail.
    assert _counts(seeds) == {"bitcoin": 26}
    assert notes == []
    cut = tmp_path / "cut" / "SDN.CSV"
    cut.parent.mkdir()
    head = f"Digital Currency Address - XBT {TIAN_BTC}; "
    tail = "; alt. Digital Currency Address - XBT 15YK647qtoZQ"
    remarks = head + "x" * (1000 - len(head) - len(tail)) + tail  # cut at OFAC's 1,000
    cut.write_text(
        f'28263,"TIAN, Yinyin","individual","DPRK3",{",".join(["-0- "] * 7)},"{remarks}"\n'
    )
    seeds, notes = read_seeds_with_notes(cut)
    assert seeds["address"].to_list() == [TIAN_BTC]
    assert "left out the possibly cut address '15YK647qtoZQ'" in notes[0]


@pytest.mark.parametrize(
    ("name", "fmt"), [("SDN.XML", "ofac-xml"), ("sdn_advanced.xml", "ofac-advanced-xml")]
)
def test_ofac_xml_formats(name: str, fmt: str) -> None:
    path = DATA / name
    assert detect_format(path) == fmt
    seeds, notes = read_seeds_with_notes(path)
    lazarus, tian = "OFAC SDN [DPRK3]", "OFAC SDN [DPRK3] [CYBER2]"
    published = dt.date(2025, 2, 26)  # Publish_Date / DateOfIssue
    assert seeds.rows() == [
        ("ethereum", RONIN.lower(), "LAZARUS GROUP", None, lazarus, published, None),
        ("ethereum", LAZARUS_2, "LAZARUS GROUP", None, lazarus, published, None),
        ("bitcoin", TIAN_BTC, "TIAN, Yinyin", None, tian, published, None),
        ("bitcoin", TIAN_BTC_2, "TIAN, Yinyin", None, tian, published, None),
    ]
    assert notes == [f"{path}: skipped 1 address of assets tracer cannot validate (XMR 1)"]
    assert read_seeds(path, chain="ethereum").height == 2


def test_sdn_advanced_resolves_feature_types_by_name(tmp_path: Path) -> None:
    # Swap the ids of the XBT and ETH feature types: a reader keyed on ids would swap chains.
    text = (DATA / "sdn_advanced.xml").read_text()
    text = text.replace('"9344"', '"TMP"').replace('"9345"', '"9344"').replace('"TMP"', '"9345"')
    swapped = tmp_path / "sdn_advanced.xml"
    swapped.write_text(text)
    assert read_seeds(swapped).equals(read_seeds(DATA / "sdn_advanced.xml"))
    # Renaming the ETH type away leaves its features out (by name, not by id).
    renamed = tmp_path / "renamed.xml"
    renamed.write_text(text.replace(">Digital Currency Address - ETH<", ">Website<"))
    assert '"9345"' in text
    assert _counts(read_seeds(renamed)) == {"bitcoin": 2}


def test_sdn_advanced_without_reference_table(tmp_path: Path) -> None:
    path = tmp_path / "sdn_advanced.xml"
    text = (DATA / "sdn_advanced.xml").read_text()
    start, end = text.index("<FeatureTypeValues>"), text.index("</FeatureTypeValues>")
    path.write_text(text[:start] + text[end + len("</FeatureTypeValues>") :])
    with pytest.raises(InputError, match="no FeatureType named 'Digital Currency Address - "):
        read_seeds(path)


# --- detection and errors ----------------------------------------------------------------------


def test_detect_format(tmp_path: Path, shared_data: Path) -> None:
    assert detect_format(shared_data / "seeds" / "dprk_attributed_addresses.csv") == "csv"
    lists = shared_data / "seeds" / "ofac_0xB10C_lists"
    assert detect_format(lists / "sanctioned_addresses_ETH.txt") == "txt"
    noext = tmp_path / "seeds"
    noext.write_text(f'["{RONIN}"]')
    assert detect_format(noext) == "json"


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        ("hello world this is prose\nand more prose here\n", "notes.txt", "cannot detect"),
        ("hello world, this is prose\n", "notes.csv", "no address column"),
        (f"{RONIN}\nhello world\n", "notes.txt", "notes.txt:2, field 'address': more than one"),
        ("<html><body/></html>", "page.xml", "XML whose root element is 'html'"),
        ("\x00\x01binary", "blob.bin", "cannot detect|not UTF-8"),
    ],
)
def test_undetectable_or_wrong_content(tmp_path: Path, content: str, name: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_seeds(path)


def test_unknown_format_lists_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text("<html/>")
    with pytest.raises(UnknownFormat) as info:
        read_seeds(path)
    for fmt in ("txt", "csv", "json", "ofac-xml", "ofac-advanced-xml", "ofac-csv"):
        assert fmt in str(info.value)


def test_bad_checksum_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    bad = RONIN[:-1] + "6"  # 0x...2F96 -> 0x...2F96 with last char changed: wrong EIP-55
    bad = RONIN.replace("B716B", "b716B")
    path.write_text(f"address,chain\n{RONIN},ETH\n{bad},ETH\n")
    with pytest.raises(InvalidAddress) as info:
        read_seeds(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3, field 'address': bad EIP-55 checksum: '{bad}'")
    assert "the correct casing is " + RONIN in message


def test_malformed_address_in_txt(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(f"{RONIN}\n0x1234\n")
    with pytest.raises(InvalidAddress, match=r"seeds.txt:2, field 'address': .*'0x1234'"):
        read_seeds(path)


def test_bad_bitcoin_checksum(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(TIAN_BTC[:-1] + "b\n")
    with pytest.raises(InvalidAddress, match="bad base58check bitcoin address"):
        read_seeds(path)


def test_missing_address_column(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    path.write_text("wallet_id,chain\n1,ETH\n")
    with pytest.raises(SchemaMismatch, match=r"seeds.csv:1, field 'address': no address column"):
        read_seeds(path)


def test_unknown_chain_is_an_error_but_known_unsupported_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    path.write_text(f"address,chain\n{RONIN},etherium\n")
    with pytest.raises(InputError, match=r"seeds.csv:2, field 'chain': unknown chain or asset"):
        read_seeds(path)
    path.write_text(f"address,chain\n{RONIN},ETH\nTBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre,TRX\n")
    seeds, notes = read_seeds_with_notes(path)
    assert seeds.height == 1
    assert notes == [f"{path}: skipped 1 address of assets tracer cannot validate (TRX 1)"]


def test_chain_option_must_be_a_tracer_chain(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(RONIN + "\n")
    with pytest.raises(InputError, match="field '--chain': tracer cannot validate"):
        read_seeds(path, chain="tron")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty file"),
        ("address,chain\n", "no rows after the header"),
        ("[]", "expected a non-empty list"),
        ('[{"chain": "ETH"}]', r"field '\[0\]': not an address string"),
        ("{not json", "not valid JSON"),
    ],
)
def test_empty_or_malformed(tmp_path: Path, content: str, match: str) -> None:
    suffix = ".json" if content[:1] in "[{" and content else ".csv"
    path = tmp_path / ("seeds" + suffix)
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_seeds(path)


def test_bad_transaction_hash(tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    path.write_text(f"address,tx_hash\n{RONIN},0xdeadbeef\n")
    with pytest.raises(InputError, match=r"seeds.csv:2, field 'tx_hash': not a transaction hash"):
        read_seeds(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        read_seeds(tmp_path / "nope.csv")


def test_ofac_folder_reads_sdn_csv_and_skips_its_companions(shared_data: Path) -> None:
    # ADD.CSV, SDN_COMMENTS.CSV and the LICENSE are not seed files; SDN.CSV is detected.
    seeds = read_seeds(shared_data / "ofac_format")
    assert _counts(seeds) == {"bitcoin": 26}
