"""Digital currency addresses out of OFAC's three SDN list formats.

OFAC publishes the Specially Designated Nationals list as, among others:

* ``SDN.XML``: one ``sdnEntry`` per party; each address is an ``idList/id`` whose ``idType``
  is ``Digital Currency Address - <ASSET>`` and whose ``idNumber`` is the address. The file
  has a default XML namespace (which changed over the years), so elements are matched by
  their local name.
* ``sdn_advanced.xml``: a ``ReferenceValueSets`` table maps ids to names; an address is a
  ``Feature`` of a party's ``Profile`` whose ``FeatureTypeID`` names
  ``Digital Currency Address - <ASSET>`` in ``FeatureTypeValues``, with the address in
  ``Feature/FeatureVersion/VersionDetail``. Ids are resolved by name, never hard-coded.
* ``SDN.CSV`` (no header row): ``ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
  Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks``, with ``-0-`` for an empty field.
  Addresses sit in the remarks (``Digital Currency Address - ETH 0x...; alt. Digital Currency
  Address - XBT ...``). Remarks are cut at 1,000 characters; the rest continues in
  ``SDN_COMMENTS.CSV`` (``ent_num, Remarks_Extended``), joined here by entity number.

The functions return :class:`OfacAddress` records with the OFAC asset code as written (``XBT``
for Bitcoin); :mod:`tracer.ingest.seeds` maps codes to chains and validates the addresses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tracer.errors import InputError

__all__ = [
    "ADDRESS_PREFIX",
    "OfacAddress",
    "OfacList",
    "find_comments_file",
    "read_sdn_advanced_xml",
    "read_sdn_csv",
    "read_sdn_xml",
    "remarks_addresses",
    "xml_root_name",
]

ADDRESS_PREFIX = "Digital Currency Address - "
_REMARKS_LIMIT = 1000  # SDN.CSV cuts remarks here; SDN_COMMENTS.CSV holds the rest
_NULL = "-0-"
_SDN_COLUMNS = 12


class OfacAddress(NamedTuple):
    """One digital currency address of one SDN party."""

    asset: str  # OFAC's asset code as written: XBT, ETH, USDT, ...
    address: str
    entity: str  # the SDN name: "LAZARUS GROUP", "TIAN, Yinyin"
    programs: tuple[str, ...]  # sanctions programs: ("DPRK3", "CYBER2")
    line: int | None  # line in the file (CSV) when known
    field: str  # where in the record the address sat


class OfacList(NamedTuple):
    """The addresses of an OFAC file, its publication date and what was left out."""

    addresses: list[OfacAddress]
    published: dt.date | None
    notes: list[str]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_root_name(path: Path) -> str | None:
    """Local name of the root element of an XML file, or None when it is not XML."""
    try:
        for _event, elem in ET.iterparse(path, events=("start",)):
            return _local(elem.tag)
    except ET.ParseError:
        return None
    return None


def _xml_error(path: Path, err: ET.ParseError) -> InputError:
    msg = f"not well-formed XML ({err})"
    line = err.position[0] if err.position else None
    return InputError(msg, source=path, line=line, fix="Download the OFAC file again")


def _programs(raw: str) -> tuple[str, ...]:
    # SDN.CSV writes two programs as "DPRK3] [CYBER2" (the brackets of "[DPRK3] [CYBER2]").
    parts = (p.strip(" []") for p in raw.split("]"))
    return tuple(p for p in parts if p and p != _NULL)


# --- SDN.XML -----------------------------------------------------------------------------------


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _children(elem: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in elem if _local(child.tag) == name)


def _us_date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text.strip(), "%m/%d/%Y").date()
    except ValueError:
        return None


def read_sdn_xml(path: Path) -> OfacList:
    """Addresses in an OFAC ``SDN.XML`` file, with its ``Publish_Date``."""
    out: list[OfacAddress] = []
    published: dt.date | None = None
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            name = _local(elem.tag)
            if name == "Publish_Date":
                published = _us_date(elem.text)
            elif name == "sdnEntry":
                out += _sdn_entry(elem)
                elem.clear()
    except ET.ParseError as err:
        raise _xml_error(path, err) from None
    return OfacList(out, published, [])


def _sdn_entry(entry: ET.Element) -> list[OfacAddress]:
    uid = _child_text(entry, "uid") or "?"
    last = _child_text(entry, "lastName") or ""
    first = _child_text(entry, "firstName")
    entity = f"{last}, {first}" if first else last
    programs: tuple[str, ...] = ()
    for plist in _children(entry, "programList"):
        programs += tuple(p.text.strip() for p in _children(plist, "program") if p.text)
    found = []
    for idlist in _children(entry, "idList"):
        for ident in _children(idlist, "id"):
            kind = _child_text(ident, "idType") or ""
            number = _child_text(ident, "idNumber")
            if kind.startswith(ADDRESS_PREFIX) and number:
                asset = kind.removeprefix(ADDRESS_PREFIX).strip()
                field = f"sdnEntry[uid={uid}]/idList/id/idNumber"
                found.append(OfacAddress(asset, number, entity, programs, None, field))
    return found


# --- sdn_advanced.xml --------------------------------------------------------------------------


# The repeated records of sdn_advanced.xml's big sections, cleared once read.
_ADVANCED_RECORDS = frozenset(
    {"DistinctParty", "SanctionsEntry", "Location", "IDRegDocument", "ProfileRelationship"}
)


def read_sdn_advanced_xml(path: Path) -> OfacList:
    """Addresses in an OFAC ``sdn_advanced.xml`` file, with its ``DateOfIssue``.

    Feature types, name part types and sanctions types are resolved by name from the file's
    ``ReferenceValueSets`` (wherever that table sits in the file); programs come from
    ``SanctionsEntries``. The file is streamed: each record is dropped once read.
    """
    feature_types: dict[str, str] = {}  # FeatureType ID -> name
    name_part_types: dict[str, str] = {}  # NamePartType ID -> "Last Name", ...
    sanctions_types: dict[str, str] = {}  # SanctionsType ID -> "Program", ...
    features: list[tuple[str, str, str, str]] = []  # profile id, FeatureTypeID, address, field
    names: dict[str, list[tuple[str, str]]] = {}  # profile id -> (NamePartTypeID, part)
    measures: list[tuple[str, str, str]] = []  # profile id, SanctionsTypeID, comment
    published: dt.date | None = None
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            name = elem.tag[elem.tag.rfind("}") + 1 :]
            if name == "FeatureType":
                feature_types[elem.get("ID", "")] = (elem.text or "").strip()
            elif name == "NamePartType":
                name_part_types[elem.get("ID", "")] = (elem.text or "").strip()
            elif name == "SanctionsType":
                sanctions_types[elem.get("ID", "")] = (elem.text or "").strip()
            elif name == "DateOfIssue":
                published = _ymd(elem)
            elif name == "DistinctParty":
                for profile in _children(elem, "Profile"):
                    pid = profile.get("ID", "")
                    names[pid] = _profile_name_parts(profile)
                    features += _profile_features(profile, pid)
            elif name == "SanctionsEntry":
                pid = elem.get("ProfileID", "")
                for measure in _children(elem, "SanctionsMeasure"):
                    comment = _child_text(measure, "Comment")
                    if comment:
                        measures.append((pid, measure.get("SanctionsTypeID", ""), comment))
            if name in _ADVANCED_RECORDS:
                elem.clear()  # streamed: a record is dropped once read
    except ET.ParseError as err:
        raise _xml_error(path, err) from None
    if not any(v.startswith(ADDRESS_PREFIX) for v in feature_types.values()):
        msg = f"no FeatureType named '{ADDRESS_PREFIX}...' in ReferenceValueSets"
        raise InputError(
            msg, source=path, fix="Pass the complete sdn_advanced.xml, reference table included"
        )
    programs: dict[str, list[str]] = {}
    for pid, type_id, comment in measures:
        if sanctions_types.get(type_id) == "Program":
            programs.setdefault(pid, []).append(comment)
    out = []
    for pid, type_id, address, field in features:
        kind = feature_types.get(type_id, "")
        if kind.startswith(ADDRESS_PREFIX):
            asset = kind.removeprefix(ADDRESS_PREFIX).strip()
            parts = [(name_part_types.get(t, ""), v) for t, v in names.get(pid, [])]
            entity = _join_name(parts)
            out.append(
                OfacAddress(asset, address, entity, tuple(programs.get(pid, [])), None, field)
            )
    return OfacList(out, published, [])


def _ymd(elem: ET.Element) -> dt.date | None:
    parts = [_child_text(elem, k) for k in ("Year", "Month", "Day")]
    if not all(p and p.isdigit() for p in parts):
        return None
    year, month, day = (int(p or 0) for p in parts)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _profile_features(profile: ET.Element, pid: str) -> list[tuple[str, str, str, str]]:
    found = []
    for feature in _children(profile, "Feature"):
        for version in _children(feature, "FeatureVersion"):
            for detail in _children(version, "VersionDetail"):
                text = (detail.text or "").strip()
                if text:
                    field = f"Profile[ID={pid}]/Feature[ID={feature.get('ID')}]/VersionDetail"
                    found.append((pid, feature.get("FeatureTypeID", ""), text, field))
    return found


def _profile_name_parts(profile: ET.Element) -> list[tuple[str, str]]:
    """The primary name of a profile as (NamePartTypeID, value) pairs, in document order."""
    for identity in _children(profile, "Identity"):
        groups: dict[str, str] = {}  # NamePartGroup ID -> NamePartTypeID
        for npg in identity.iter():
            if _local(npg.tag) == "NamePartGroup":
                groups[npg.get("ID", "")] = npg.get("NamePartTypeID", "")
        for alias in _children(identity, "Alias"):
            if alias.get("Primary") != "true":
                continue
            for doc in _children(alias, "DocumentedName"):
                return [
                    (groups.get(value.get("NamePartGroupID", ""), ""), (value.text or "").strip())
                    for part in _children(doc, "DocumentedNamePart")
                    for value in _children(part, "NamePartValue")
                ]
    return []


def _join_name(parts: list[tuple[str, str]]) -> str:
    """``LAST, First Middle`` as SDN.CSV writes individuals; other names joined by spaces."""
    last = [v for k, v in parts if k == "Last Name"]
    rest = [v for k, v in parts if k != "Last Name"]
    if last and rest:
        return f"{' '.join(last)}, {' '.join(rest)}"
    return " ".join(v for _k, v in parts)


# --- SDN.CSV + SDN_COMMENTS.CSV ----------------------------------------------------------------


def find_comments_file(sdn_csv: Path) -> Path | None:
    """The ``SDN_COMMENTS.CSV`` beside an ``SDN.CSV``, if there is one.

    The counterpart name (``SDN.CSV`` -> ``SDN_COMMENTS.CSV``, any case, any suffix after it)
    wins; otherwise the one sibling whose name starts with ``SDN_COMMENTS``.
    """
    name = sdn_csv.name
    if not name.upper().startswith("SDN"):
        return None
    counterpart = name[:3] + ("_COMMENTS" if name[:3].isupper() else "_comments") + name[3:]
    if (sdn_csv.parent / counterpart).is_file():
        return sdn_csv.parent / counterpart
    siblings = sorted(
        p for p in sdn_csv.parent.iterdir() if p.is_file() and p.name.upper().startswith("SDN_COMM")
    )
    return siblings[0] if len(siblings) == 1 else None


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _cell(value: str) -> str | None:
    value = value.strip()
    return None if not value or value == _NULL else value


def _read_comments(path: Path) -> dict[str, str]:
    comments: dict[str, str] = {}
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    for row in reader:
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[0].strip().isdigit():
            msg = "not an SDN_COMMENTS.CSV row (ent_num, Remarks_Extended)"
            raise InputError(
                msg,
                source=path,
                line=reader.line_num,
                value=",".join(row)[:80],
                fix="Pass OFAC's SDN_COMMENTS.CSV, or remove it from beside SDN.CSV",
            )
        ent = row[0].strip()
        comments[ent] = comments.get(ent, "") + row[1]
    return comments


def read_sdn_csv(path: Path, *, comments: Path | None = None) -> OfacList:
    """Addresses in an OFAC ``SDN.CSV`` file, remarks joined with ``SDN_COMMENTS.CSV``.

    Parameters
    ----------
    path
        The SDN.CSV file (no header row).
    comments
        Its SDN_COMMENTS.CSV; found beside ``path`` by :func:`find_comments_file` when None.
    """
    comments = comments if comments is not None else find_comments_file(path)
    extended = _read_comments(comments) if comments is not None else {}
    out: list[OfacAddress] = []
    notes: list[str] = []
    seen: set[str] = set()
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    for row in reader:
        if not row or not "".join(row).strip():
            continue
        line = reader.line_num
        if len(row) != _SDN_COLUMNS or not row[0].strip().isdigit():
            msg = f"not an SDN.CSV row: {len(row)} fields, OFAC's SDN.CSV has {_SDN_COLUMNS}"
            raise InputError(
                msg,
                source=path,
                line=line,
                value=",".join(row)[:80],
                fix="Pass OFAC's SDN.CSV (ent_num, SDN_Name, SDN_Type, Program, ..., Remarks)",
            )
        ent = row[0].strip()
        seen.add(ent)
        remarks = row[11] if _cell(row[11]) else ""
        cut = False
        if ent in extended:
            remarks += extended[ent]
        elif len(remarks) >= _REMARKS_LIMIT:
            cut = True
        entity = _cell(row[1]) or ""
        programs = _programs(row[3])
        pairs = remarks_addresses(remarks)
        if cut and pairs and _REMARK.match(remarks.rsplit(";", 1)[-1].strip()):
            last = pairs.pop()
            notes.append(
                f"{path}:{line}: remarks of entity {ent} are cut at {_REMARKS_LIMIT} characters "
                f"and no SDN_COMMENTS.CSV continues them; left out the possibly cut address "
                f"{last[1]!r} (put SDN_COMMENTS.CSV beside SDN.CSV)"
            )
        out += [OfacAddress(a, addr, entity, programs, line, "Remarks") for a, addr in pairs]
    orphans = sorted(set(extended) - seen)
    if orphans:
        notes.append(
            f"{comments}: {len(orphans)} SDN_COMMENTS.CSV entr{'y' if len(orphans) == 1 else 'ies'}"
            f" without an SDN.CSV row left out (entities {', '.join(orphans)}): the two files "
            "are from different publications"
        )
    return OfacList(out, None, notes)


_REMARK = re.compile(r"^(?:alt\.\s*)?Digital Currency Address - ([A-Za-z0-9]+)\s+(\S+?)\.?$")


def remarks_addresses(remarks: str) -> list[tuple[str, str]]:
    """``(asset, address)`` pairs written in SDN.CSV remarks, in order.

    Examples
    --------
    >>> remarks_addresses(
    ...     "DOB 1986; Digital Currency Address - XBT 1AbC; alt. Digital Currency Address - "
    ...     "ETH 0x12ab; Gender Male."
    ... )
    [('XBT', '1AbC'), ('ETH', '0x12ab')]
    """
    pairs = []
    for segment in remarks.split(";"):
        match = _REMARK.match(segment.strip())
        if match:
            pairs.append((match.group(1), match.group(2)))
    return pairs
