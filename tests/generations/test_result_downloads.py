"""Result downloads fetch only what we meant: every URL and redirect hop checked (scheme, allowed hosts, public
addresses), at most the requested number of images, real images only, albums within Telegram's limit. A refusal
fails the generation once, refunded, and the user is told."""

import json
from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from generations import fal, services
from generations.exceptions import ProviderRejected
from generations.fal_download import DownloadPolicy
from generations.models import GenerationStatus, ImageGeneration

pytestmark = pytest.mark.django_db(transaction=True)

HTML = b"<!doctype html><html><body>internal admin page</body></html>"


@pytest.fixture
def client(fake_fal):
    return fal.provider_get()


@pytest.fixture
def generate(funded_user, ready_avatar, fake_fal, bot_api):
    """Run one generation to its end against the fake FAL (which answers as scripted); returns it."""

    def run(*, num_images: int = 1, **script):
        user = funded_user("1000")
        fake_fal.script(queued=0, running=0, **script)
        generation = services.generation_create(user=user, avatar_id=ready_avatar(user).pk, aspect_ratio="1:1",
                                                num_images=num_images, prompt="на пляже на закате")
        services.generation_poll(generation_id=generation.pk)
        generation.refresh_from_db()
        return generation

    return run


def file_requests(fake_fal) -> list[str]:
    return [path for method, path in fake_fal.requests if method == "GET" and path.startswith("/files/")]


def assert_failed_and_refunded_once(generation, fake_fal, bot_api, media):
    assert generation.status == GenerationStatus.FAILED and not generation.result_files
    assert balance_get(user=generation.user) == Decimal("1000")
    services.provider_webhook_handle(body=fake_fal.webhook_body(generation.provider_request_id))  # a late webhook
    assert balance_get(user=generation.user) == Decimal("1000")
    assert Transaction.objects.filter(user=generation.user, type=TransactionType.REFUND).count() == 1
    assert "Не удалось создать" in bot_api.wait_for("sendMessage").text
    assert not (media / "generations" / str(generation.pk)).exists() or \
        not any((media / "generations" / str(generation.pk)).iterdir())


# --- the generation flow ------------------------------------------------------------------------------------------
def test_a_result_redirecting_to_an_internal_address_fails_the_generation(generate, fake_fal, bot_api, media):
    fake_fal.serve("internal", HTML)
    hop = fake_fal.redirect("moved.jpg", f"http://localhost:{fake_fal.port}/files/internal")
    generation = generate(image_urls=[hop])
    assert_failed_and_refunded_once(generation, fake_fal, bot_api, media)
    assert "localhost" in generation.error_message
    assert file_requests(fake_fal) == ["/files/moved.jpg"]  # the hop was never followed


def test_a_second_result_url_outside_the_allowed_hosts_fails_the_generation(generate, fake_fal, bot_api, media):
    generation = generate(num_images=2, image_urls=[fake_fal.serve("1.jpg", image(1)), "https://evil.example/2.jpg"])
    assert_failed_and_refunded_once(generation, fake_fal, bot_api, media)
    assert "evil.example" in generation.error_message


def test_an_html_page_instead_of_an_image_fails_the_generation(generate, fake_fal, bot_api, media):
    page = fake_fal.serve("page.jpg", HTML, headers={"Content-Type": "text/html"})
    generation = generate(image_urls=[page])
    assert_failed_and_refunded_once(generation, fake_fal, bot_api, media)
    assert "not_image" in generation.error_message


def test_only_the_requested_number_of_images_is_kept_and_sent(generate, fake_fal, bot_api):
    generation = generate(num_images=1, images=40)
    assert generation.status == GenerationStatus.COMPLETED
    assert len(generation.result_files) == 1 and len(generation.result_urls) == 1
    assert len(file_requests(fake_fal)) == 1
    assert "готовы" in bot_api.wait_for("sendPhoto").text
    assert not bot_api.calls_of("sendMediaGroup")


def test_more_than_ten_images_go_as_albums_of_at_most_ten(generate, fake_fal, bot_api, settings):
    settings.MAX_IMAGES_PER_GENERATION = 12
    generation = generate(num_images=12)
    assert generation.status == GenerationStatus.COMPLETED and len(generation.result_files) == 12
    albums = bot_api.wait_for("sendMediaGroup", count=2)
    assert [len(album.json("media")) for album in albums] == [10, 2]
    assert [album.status for album in albums] == [200, 200]
    assert "готовы" in albums[0].json("media")[0]["caption"] and "caption" not in albums[1].json("media")[0]
    generation.refresh_from_db()
    assert generation.delivered_at is not None


def test_a_failed_second_album_does_not_make_the_first_one_go_out_twice(generate, fake_fal, bot_api, settings):
    settings.MAX_IMAGES_PER_GENERATION = 12
    bot_api.fail("sendMediaGroup", 500, when=lambda data: len(json.loads(data["media"])) == 2)
    generation = generate(num_images=12)
    bot_api.wait_for("sendMessage", lambda call: "галерее" in call.text)
    services.generation_deliver(generation_id=generation.pk)  # a repeated delivery task
    assert [len(album.json("media")) for album in bot_api.calls_of("sendMediaGroup")] == [10, 2]
    generation.refresh_from_db()
    assert generation.delivered_at is not None


# --- the client's checks ------------------------------------------------------------------------------------------
def test_a_redirect_to_another_allowed_file_is_followed(client, fake_fal):
    target = fake_fal.serve("real.jpg", image(3))
    assert client.download(fake_fal.redirect("moved.jpg", target, status=307)) == image(3)


def test_a_redirect_to_an_allowed_host_on_a_non_public_address_is_refused(client, fake_fal, settings):
    settings.FAL_DOWNLOAD_HOSTS = [*settings.FAL_DOWNLOAD_HOSTS, "127.0.0.2"]
    hop = fake_fal.redirect("moved.jpg", f"https://127.0.0.2:{fake_fal.port}/files/x.jpg")
    with pytest.raises(ProviderRejected, match="non-public"):
        client.download(hop)


def test_endless_redirects_are_refused(client, fake_fal):
    loop = fake_fal.redirect("a.jpg", f"{fake_fal.base_url}/files/b.jpg")
    fake_fal.redirect("b.jpg", loop)
    with pytest.raises(ProviderRejected, match="redirects"):
        client.download(loop)


def test_an_https_host_outside_the_allowed_hosts_is_refused(client):
    for url in ("https://evil.example/x.jpg", "https://fal.media.evil.example/x.jpg", "https://evilfal.media/x"):
        with pytest.raises(ProviderRejected, match="not an allowed host"):
            client.download(url)


def test_plain_http_is_refused_even_from_an_allowed_host(client):
    with pytest.raises(ProviderRejected, match="plain http"):
        client.download("http://v3.fal.media/files/x.jpg")


def test_loopback_is_refused_without_the_explicit_allow_list(client, fake_fal, settings):
    settings.FAL_DOWNLOAD_ALLOWED_NETWORKS = []
    with pytest.raises(ProviderRejected, match="non-public"):
        client.download(fake_fal.serve("x.jpg", image(1)))
    assert not file_requests(fake_fal)


def test_a_name_that_resolves_to_loopback_is_refused(client, settings):
    settings.FAL_DOWNLOAD_HOSTS = ["localhost"]
    settings.FAL_DOWNLOAD_ALLOWED_NETWORKS = []
    with pytest.raises(ProviderRejected, match="non-public"):
        client.download("https://localhost:9/x.jpg")


def test_allowed_hosts_match_exactly_or_as_subdomains_of_a_wildcard():
    policy = DownloadPolicy.build(hosts=["fal.media", "*.fal.media"], own_urls=["https://queue.fal.run"],
                                  networks=[])
    assert all(policy.host_allowed(h) for h in ("fal.media", "v3.fal.media", "a.b.fal.media", "queue.fal.run",
                                                "V3.FAL.MEDIA."))
    assert not any(policy.host_allowed(h) for h in ("evilfal.media", "fal.media.evil.example", "fal.run",
                                                    "x.queue.fal.run"))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::1", "fe80::1",
                                     "fc00::1", "::ffff:127.0.0.1"])
def test_non_public_addresses_are_refused_unless_allow_listed(address):
    closed = DownloadPolicy.build(hosts=[], own_urls=[], networks=[])
    assert not closed.address_allowed(address)
    opened = DownloadPolicy.build(hosts=[], own_urls=[], networks=["127.0.0.0/8", "::/0", "0.0.0.0/0"])
    assert opened.address_allowed(address)
    assert closed.address_allowed("93.184.216.34") and closed.address_allowed("2606:4700::1111")


def image(seed: int) -> bytes:
    from tests.generations.conftest import image_bytes

    return image_bytes(seed, size=(32, 32))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status, released", [(400, False), (500, True)])
def test_delivered_is_set_only_when_telegram_accepted_the_album(funded_user, ready_avatar, fake_fal, bot_api,
                                                                status, released):
    """Issue 16: Telegram answering an error leaves "delivered" empty; a retryable error releases the claim so
    the sweep tries again, a final one does not (the album would be refused again)."""
    user = funded_user("100")
    fake_fal.script(queued=0, running=0)
    bot_api.fail("sendMediaGroup", status, "Bad Request: chat not found" if status == 400 else "Internal Server Error",
                 times=5)
    generation = services.generation_create(user=user, avatar_id=ready_avatar(user).pk, aspect_ratio="1:1",
                                            num_images=2, prompt="у моря")
    services.generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.COMPLETED and bot_api.calls_of("sendMediaGroup")
    assert generation.delivered_at is None
    assert (generation.delivery_claimed_at is None) is released
    if released:
        services.generation_deliver(generation_id=generation.pk)
        assert ImageGeneration.objects.get(pk=generation.pk).delivered_at is None
