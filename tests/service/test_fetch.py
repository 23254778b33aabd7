"""Safe fetching of *_url inputs and signed, retried webhooks, against a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from facecraft.errors import InputError
from facecraft.service.fetch import FetchError, FetchLimits, check_url, fetch_to_file, is_public_address
from facecraft.service.webhooks import SIGNATURE_HEADER, WebhookSender, sign
from tests.service.helpers import Receiver


def limits(**kw) -> FetchLimits:  # noqa: ANN003
    values = {"max_bytes": 1000, "timeout_s": 10.0, "allow_private": True, "content_types": ("video/",)}
    values.update(kw)
    return FetchLimits(**values)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.mp4",
        "http://localhost:8080/a.mp4",
        "http://[::1]/a.mp4",
        "http://10.1.2.3/a.mp4",
        "http://192.168.0.4/a.mp4",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/a.mp4",
        "ftp://example.com/a.mp4",
        "file:///etc/passwd",
        "http:///nohost",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(InputError) as err:
        check_url(url, allow_private=False)
    assert err.value.error_id == "download_link"


def test_address_classes() -> None:
    assert is_public_address("8.8.8.8") and is_public_address("2606:4700::1111")
    assert not is_public_address("::ffff:127.0.0.1") and not is_public_address("fe80::1")


def test_fetch_ok_and_limits(receiver: Receiver, tmp_path: Path) -> None:
    receiver.routes = {
        "/ok.mp4": (200, "video/mp4", b"x" * 500),
        "/big.mp4": (200, "video/mp4", b"x" * 5000),
        "/page": (200, "text/html", b"<html></html>"),
        "/bin": (200, "application/octet-stream", b"y" * 10),
    }
    got = fetch_to_file(f"{receiver.url}/ok.mp4", tmp_path / "ok", limits=limits())
    assert got.size_bytes == 500 and got.path.read_bytes() == b"x" * 500 and got.content_type == "video/mp4"
    assert fetch_to_file(f"{receiver.url}/bin", tmp_path / "bin", limits=limits()).size_bytes == 10
    with pytest.raises(FetchError) as err:
        fetch_to_file(f"{receiver.url}/big.mp4", tmp_path / "big", limits=limits())
    assert err.value.error_id == "file_size" and not (tmp_path / "big").exists()
    with pytest.raises(FetchError) as err:
        fetch_to_file(f"{receiver.url}/page", tmp_path / "page", limits=limits())
    assert err.value.error_id == "video_format"
    with pytest.raises(FetchError) as err:
        fetch_to_file(
            f"{receiver.url}/missing", tmp_path / "m", limits=limits(link_error="audio_file_download_link")
        )
    assert err.value.error_id == "audio_file_download_link"
    # The same local server is refused when private targets are not allowed.
    with pytest.raises(InputError):
        fetch_to_file(f"{receiver.url}/ok.mp4", tmp_path / "no", limits=limits(allow_private=False))


def test_webhook_is_signed_and_retried(receiver: Receiver) -> None:
    receiver.fail_first = 2
    sender = WebhookSender(secret="s3cret", attempts=3, backoff_s=0.01, allow_private=True)
    payload = {"face_id": "r123", "status": "ready"}
    assert sender.deliver(f"{receiver.url}/hook", payload)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert json.loads(body) == payload
    assert (
        headers[SIGNATURE_HEADER.lower()] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    )
    assert sign("s3cret", body) == headers[SIGNATURE_HEADER.lower()]


def test_webhook_gives_up_and_refuses_private_targets(receiver: Receiver) -> None:
    receiver.fail_first = 10
    assert not WebhookSender(secret="s", attempts=2, backoff_s=0.01, allow_private=True).deliver(
        f"{receiver.url}/hook", {"a": 1}
    )
    receiver.fail_first = 0
    assert not WebhookSender(secret="s", attempts=1, backoff_s=0.01, allow_private=False).deliver(
        f"{receiver.url}/hook", {"a": 1}
    )
    assert receiver.received == []
