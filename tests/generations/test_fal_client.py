"""The provider client against the fake FAL server, over real HTTP."""

import pytest

from generations import fal
from generations.exceptions import ProviderNotReady, ProviderRejected, ProviderTransientError, ProviderUnavailable


@pytest.fixture
def client(fake_fal):
    return fal.provider_get()


def test_a_request_goes_queued_then_in_progress_then_completed_with_its_output(client, fake_fal):
    fake_fal.script(queued=1, running=1)
    submitted = client.submit(fal.LORA_GENERATOR, {"prompt": "TOK", "num_images": 2})
    assert client.status(fal.LORA_GENERATOR, submitted.request_id).status == fal.IN_QUEUE
    with pytest.raises(ProviderNotReady):
        client.result(fal.LORA_GENERATOR, submitted.request_id)
    running = client.status(fal.LORA_GENERATOR, submitted.request_id)
    assert running.status == fal.IN_PROGRESS and running.logs == ("step 500/1000",)
    assert client.status(fal.LORA_GENERATOR, submitted.request_id).done
    output = client.result(fal.LORA_GENERATOR, submitted.request_id)
    assert len(output["images"]) == 2
    assert client.download(output["images"][0]["url"])[:2] == b"\xff\xd8"


def test_status_and_result_of_a_sub_path_endpoint_use_owner_and_app_only(client, fake_fal):
    submitted = client.submit("fal-ai/flux-lora/image-to-image", {"prompt": "x"})
    assert ("POST", "/fal-ai/flux-lora/image-to-image") in fake_fal.requests
    client.status("fal-ai/flux-lora/image-to-image", submitted.request_id)
    assert ("GET", f"/fal-ai/flux-lora/requests/{submitted.request_id}/status") in fake_fal.requests


def test_the_webhook_url_is_passed_on_submit(client, fake_fal):
    submitted = client.submit(fal.LORA_GENERATOR, {"prompt": "x"}, webhook_url="https://example.org/hook/s3cret/")
    assert fake_fal.jobs[submitted.request_id].webhook == "https://example.org/hook/s3cret/"


def test_a_failed_request_is_completed_and_its_result_is_a_final_error(client, fake_fal):
    fake_fal.script(outcome="error", queued=0, running=0)
    submitted = client.submit(fal.LORA_GENERATOR, {"prompt": "x"})
    assert client.status(fal.LORA_GENERATOR, submitted.request_id).done
    with pytest.raises(ProviderRejected) as exc:
        client.result(fal.LORA_GENERATOR, submitted.request_id)
    assert exc.value.status == 422 and exc.value.error_type == "content_policy_violation"


def test_429_and_5xx_are_retried_with_backoff(client, fake_fal):
    fake_fal.fail("/fal-ai/flux-lora", 429, times=1, headers={"Retry-After": "0"})
    fake_fal.fail("/fal-ai/flux-lora", 503, times=1)
    assert client.submit(fal.LORA_GENERATOR, {"prompt": "x"}).request_id
    assert len([r for r in fake_fal.requests if r == ("POST", "/fal-ai/flux-lora")]) == 3


def test_persistent_5xx_becomes_a_transient_error_after_the_retries(client, fake_fal):
    fake_fal.fail("/fal-ai/flux-lora", 500, times=10)
    with pytest.raises(ProviderTransientError):
        client.submit(fal.LORA_GENERATOR, {"prompt": "x"})
    assert len(fake_fal.requests) == 3  # the first try and FAL_RETRIES=2 retries


def test_a_bad_key_is_rejected_without_retries(client, fake_fal, settings):
    bad = fal.FalClient(key="wrong", queue_url=fake_fal.base_url, rest_url=fake_fal.base_url,
                        cdn_url=fake_fal.base_url, retries=3, backoff=0.01)
    with pytest.raises(ProviderRejected) as exc:
        bad.submit(fal.LORA_GENERATOR, {"prompt": "x"})
    assert exc.value.status == 401 and len(fake_fal.requests) == 1


def test_a_malformed_status_answer_is_a_transient_error(client, fake_fal):
    fake_fal.script(outcome="malformed_status")
    submitted = client.submit(fal.LORA_GENERATOR, {"prompt": "x"})
    with pytest.raises(ProviderTransientError):
        client.status(fal.LORA_GENERATOR, submitted.request_id)


def test_an_unreachable_server_is_a_transient_error(settings):
    client = fal.FalClient(key="k", queue_url="http://127.0.0.1:9", rest_url="http://127.0.0.1:9",
                           cdn_url="http://127.0.0.1:9", timeout=1, retries=1, backoff=0.01)
    with pytest.raises(ProviderTransientError):
        client.submit(fal.LORA_GENERATOR, {"prompt": "x"})


def test_upload_gets_a_token_then_posts_the_bytes_to_the_cdn(client, fake_fal):
    url = client.upload(b"PK-zip-bytes", content_type="application/zip", file_name="photos.zip")
    assert url.startswith(fake_fal.base_url) and client.download(url) == b"PK-zip-bytes"


def test_cancel_of_a_completed_request_is_harmless(client, fake_fal):
    fake_fal.script(queued=0, running=0)
    submitted = client.submit(fal.LORA_GENERATOR, {"prompt": "x"})
    client.status(fal.LORA_GENERATOR, submitted.request_id)
    client.cancel(fal.LORA_GENERATOR, submitted.request_id)


def test_without_a_key_production_refuses_and_debug_uses_the_labelled_dev_backend(settings):
    settings.FAL_KEY = ""
    settings.DEBUG = False
    with pytest.raises(ProviderUnavailable):
        fal.provider_get()
    settings.DEBUG = True
    backend = fal.provider_get()
    assert backend.is_dev
    submitted = backend.submit(fal.LORA_GENERATOR, {"prompt": "x", "num_images": 2, "image_size": "portrait_4_3"})
    images = backend.result(fal.LORA_GENERATOR, submitted.request_id)["images"]
    assert len(images) == 2 and backend.download(images[0]["url"])[:4] == b"\x89PNG"


def test_a_call_that_takes_longer_than_its_timeout_is_retried_then_a_transient_error(fake_fal):
    client = fal.FalClient(key=fake_fal.key, queue_url=fake_fal.base_url, rest_url=fake_fal.base_url,
                           cdn_url=fake_fal.base_url, timeout=0.2, retries=1, backoff=0.01)
    fake_fal.fail("/fal-ai/flux-lora", 200, times=2, delay=1.0)
    with pytest.raises(ProviderTransientError):
        client.submit(fal.LORA_GENERATOR, {"prompt": "x"})


def test_a_download_url_other_than_http_is_refused(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"local file")
    for url in (secret.as_uri(), "ftp://127.0.0.1/x", "dev-placeholder://1x1/1", "/etc/passwd"):
        with pytest.raises(ProviderRejected):
            client.download(url)


def test_plain_http_downloads_only_from_the_fal_hosts_and_debug_changes_nothing(client, fake_fal, settings):
    settings.DEBUG = True
    for url in ("http://files.example.invalid/image.jpg", "http://localhost:9/x.jpg"):
        with pytest.raises(ProviderRejected):
            client.download(url)
    assert client.download(fake_fal.serve("own.jpg", b"bytes")) == b"bytes"  # FAL_CDN_URL is plain http here


@pytest.mark.parametrize("declare_length", [False, True])
def test_an_oversized_download_is_refused_without_reading_it_all(fake_fal, declare_length):
    total = 32 * 1024 * 1024
    with BigBodyServer(total, declare_length=declare_length) as server:
        client = fal.FalClient(key=fake_fal.key, queue_url=fake_fal.base_url, rest_url=fake_fal.base_url,
                               cdn_url=server.url.rsplit("/", 1)[0], retries=0)
        with pytest.raises(ProviderRejected, match="large"):
            client.download(server.url, max_bytes=1024)
        server.finished.wait(10)
    assert server.sent < total // 2


class BigBodyServer:
    """Serves ``total`` bytes in chunks (close-delimited unless the length is declared) and counts what got out
    before the client hung up."""

    def __init__(self, total: int, *, declare_length: bool):
        import http.server
        import threading

        owner = self
        self.sent, self.finished = 0, threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                if declare_length:
                    self.send_header("Content-Length", str(total))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while owner.sent < total:
                        self.wfile.write(chunk)
                        owner.sent += len(chunk)
                except OSError:
                    pass
                finally:
                    owner.finished.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/big.jpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
