"""An RPC URL's API key or password never appears in output, errors, logs or the data dir."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.tracer.ingest_rpc.rpc_chain import Behaviour, Chain, FaultServer
from tracer.cli import cli
from tracer.devnode import free_port
from tracer.errors import TracerError
from tracer.ingest.rpc import ingest_rpc
from tracer.redact import redact_url, scrub
from tracer.store import Store

pytestmark = pytest.mark.anvil

ARGS = ["ingest", "rpc", "--rpc-url"]
MakeServer = Callable[[str | None, Behaviour], FaultServer]
KEY = "sk9Qv3SECRETkey0123456789abcdef"
PASSWORD = "hunter2pass"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://eth-mainnet.g.alchemy.com/v2/{KEY}", "https://eth-mainnet.g.alchemy.com/v2/***"),
        (f"https://mainnet.infura.io/v3/{KEY}", "https://mainnet.infura.io/v3/***"),
        (f"https://user:{PASSWORD}@node.example:8545", "https://***@node.example:8545"),
        (f"https://node.example/rpc?apikey={KEY}", "https://node.example/rpc?apikey=***"),
        (f"https://name.quiknode.pro/{KEY}/", "https://name.quiknode.pro/***/"),
        ("not a url " + KEY, "***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    for secret in (KEY, PASSWORD):
        if secret in url:
            assert secret not in redact_url(url)
            assert secret not in scrub(f"failed: {url} ({secret})", url)


def assert_clean(text: str) -> None:
    assert KEY not in text
    assert PASSWORD not in text


def data_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_secret_url_never_shown_on_success(
    scenario: Chain, make_server: MakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(scenario.node.url, lambda body, path: None)
    url = f"http://alice:{PASSWORD}@127.0.0.1:{server.port}/v2/{KEY}"
    data = tmp_path / "data"
    caplog.set_level(logging.DEBUG)
    args = ["ingest", "rpc", "--rpc-url", url, "--from-block", "0", "--data", str(data)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"from http://***@127.0.0.1:{server.port}/v2/***" in result.output
    assert_clean(result.output)
    assert_clean(caplog.text)
    assert KEY.encode() not in data_bytes(data)
    assert PASSWORD.encode() not in data_bytes(data)
    # the key did reach the node: the path is the provider's, not ours to change
    assert server.paths[0] == f"/v2/{KEY}"


def test_secret_url_never_shown_in_errors(
    make_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = make_server(None, lambda body, path: (401, {}, b"invalid api key " + KEY.encode()))
    down = f"http://127.0.0.1:{free_port()}"
    for base in (refused.url, down):
        url = base.replace("http://", f"http://bob:{PASSWORD}@") + f"/v3/{KEY}"
        result = CliRunner().invoke(
            cli,
            [*ARGS, url, "--from-block", "0", "--retries", "0", "--data", str(tmp_path / "d")],
        )
        assert result.exit_code == 1
        assert result.output.startswith("Error: ")
        assert "/v3/***" in result.output
        assert_clean(result.output)
        with pytest.raises(TracerError) as caught:
            ingest_rpc(Store(tmp_path / "e"), url, from_block=0, retries=0)
        assert_clean(str(caught.value))
        assert_clean(repr(caught.value.args))
    assert "401" in result.output or "cannot reach" in result.output


def test_progress_bar_shows_only_the_redacted_url(
    scenario: Chain, make_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_server(scenario.node.url, lambda body, path: None)
    url = f"http://127.0.0.1:{server.port}/v2/{KEY}"
    ingest_rpc(Store(tmp_path / "d"), url, from_block=0, progress=True, chunk_size=5)
    err = capsys.readouterr().err
    assert f"ingest http://127.0.0.1:{server.port}/v2/*** [" in err
    assert "blocks/s ETA" in err
    assert_clean(err)


def test_web3_transport_logs_no_secret(
    scenario: Chain, make_server: MakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(scenario.node.url, lambda body, path: None)
    url = f"http://127.0.0.1:{server.port}/v2/{KEY}"
    caplog.set_level(logging.DEBUG)
    store = Store(tmp_path / "d")
    report = ingest_rpc(store, url, from_block=0, transport="web3", retries=0)
    assert report.added["transfers"] == 15
    assert caplog.records  # web3.py and urllib3 did log the requests...
    assert_clean(caplog.text)  # ...with the key scrubbed
    assert_clean(" ".join(str(r.args) for r in caplog.records))
