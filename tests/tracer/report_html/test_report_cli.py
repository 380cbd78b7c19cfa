"""``tracer report OUTDIR``: re-renders the page and the exports; errors name what is missing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracer.cli import cli


def test_report_command_writes_page_and_exports(fixture_trace: Path, tmp_path: Path) -> None:
    page = tmp_path / "elsewhere.html"
    result = CliRunner().invoke(cli, ["report", str(fixture_trace), "--html", str(page)])
    assert result.exit_code == 0, result.output
    written = result.output.split()
    assert written[0] == str(page)
    assert [Path(p).name for p in written[1:]] == [
        "graph.json",
        "graph.graphml",
        "graph.gexf",
        "stix.json",
    ]
    assert page.is_file()
    assert (fixture_trace / "stix.json").is_file()
    assert not (fixture_trace / "report.html").exists()


def test_report_command_default_path_is_reproducible(fixture_trace: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["report", str(fixture_trace)]).exit_code == 0
    first = (fixture_trace / "report.html").read_bytes()
    assert runner.invoke(cli, ["report", str(fixture_trace)]).exit_code == 0
    assert (fixture_trace / "report.html").read_bytes() == first


def test_report_command_on_a_directory_without_a_trace(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "flows.csv is missing" in result.output
    assert "tracer trace" in result.output


def test_report_command_on_a_malformed_flows_file(fixture_trace: Path) -> None:
    (fixture_trace / "flows.csv").write_text("chain,hop\nethereum,1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(fixture_trace)])
    assert result.exit_code == 2
    assert "flows.csv" in result.output
    assert "missing column(s)" in result.output


def test_report_command_names_a_bad_amount(fixture_trace: Path) -> None:
    flows = (fixture_trace / "flows.csv").read_text(encoding="utf-8").splitlines()
    flows[3] = flows[3].replace(",1000000000,1000000000,", ",1e9,1000000000,")
    (fixture_trace / "flows.csv").write_text("\n".join(flows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(fixture_trace)])
    assert result.exit_code == 2
    assert "flows.csv:4, field 'value': not an integer amount: '1e9'" in result.output


def test_report_command_names_a_broken_trace_json(fixture_trace: Path) -> None:
    (fixture_trace / "trace.json").write_text('{"seeded": }\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(fixture_trace)])
    assert result.exit_code == 2
    assert "trace.json:1: not JSON" in result.output
