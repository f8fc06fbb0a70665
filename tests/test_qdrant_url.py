"""QDRANT_URL: a malformed URL is one error that never prints its secret; a server's failure says which failure."""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincommerce.config import check_qdrant_url, redact_url
from fincommerce.errors import ConfigError, StoreUnavailableError
from fincommerce.store.client import ClientStore

SECRET = "s3cr3t"
MALFORMED = [  # the reproductions
    f"http://user:{SECRET}@127.0.0.1:99999",
    f"http://127.0.0.1:99999?api_key={SECRET}",
    f"http://user:{SECRET}@[::1]:99999",
    f":memory:user:{SECRET}",
    f"http://user:{SECRET}@[::1",
    f"ftp://user:{SECRET}@host",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_one_error_without_the_secret(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        ClientStore(url)
    assert "QDRANT_URL" in str(err.value) and SECRET not in str(err.value)


def test_the_cli_names_the_setting_and_hides_the_secret(tmp_path) -> None:
    env = {**os.environ, "QDRANT_URL": MALFORMED[0], "FINCOMMERCE_STORE_PATH": str(tmp_path / "store")}
    done = subprocess.run(
        [sys.executable, "-m", "fincommerce.cli", "trending"], env=env, capture_output=True, text=True, timeout=120
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "QDRANT_URL" in out
    assert SECRET not in out and "Traceback" not in out


secrets = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="@/?#&="), min_size=4)
hosts = st.sampled_from(["127.0.0.1", "[::1]", "[::1", "qdrant.example.com", "", "h:99999", "h:-1", "h:port"])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["http://", "https://", "", ":memory:", "qdrant://"]), st.text(max_size=8).filter(
    lambda u: "@" not in u and "/" not in u), secrets, hosts, st.sampled_from(["", "/path", "?api_key=", "?a=1&key="]))
def test_no_url_shape_leaks_its_secret(scheme: str, user: str, secret: str, host: str, tail: str) -> None:
    assume_secret_is_distinct = secret not in scheme + host + tail + "api_key" + "***"
    url = f"{scheme}{user}:{secret}@{host}{tail}" + (secret if tail.endswith("=") else "")
    shown = redact_url(url)
    if assume_secret_is_distinct:
        assert secret not in shown
    try:
        check_qdrant_url(url)
    except ConfigError as exc:
        assert not assume_secret_is_distinct or secret not in str(exc)


class _Forbidden(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(403)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def forbidden_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_wrong_key_a_refused_connection_and_silence_are_told_apart(forbidden_server: str) -> None:
    with pytest.raises(StoreUnavailableError, match="refused the API key"):
        ClientStore(forbidden_server, api_key="wrong", timeout=2).collections()
    with pytest.raises(StoreUnavailableError, match="refused the connection"):
        ClientStore(f"http://127.0.0.1:{_free_port()}", timeout=2).collections()
    with socket.socket() as silent:  # accepts (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with pytest.raises(StoreUnavailableError, match="did not answer within 1 s"):
            ClientStore(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=1).collections()
