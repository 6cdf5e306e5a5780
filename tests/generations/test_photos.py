import pytest

from generations.exceptions import PhotoRejected
from generations.photos import photo_check
from tests.generations.conftest import image_bytes


@pytest.mark.parametrize("fmt, stored", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_jpeg_png_and_webp_photos_are_accepted_with_their_facts(fmt, stored):
    checked = photo_check(content=image_bytes(1, size=(600, 800), fmt=fmt))
    assert (checked.format, checked.width, checked.height) == (stored, 600, 800)
    assert len(checked.file_hash) == 32


def test_a_text_file_renamed_to_jpg_is_not_an_image():
    with pytest.raises(PhotoRejected) as exc:
        photo_check(content=b"just some text pretending to be photo.jpg\n" * 50)
    assert exc.value.reason == "not_image"


def test_a_truncated_jpeg_is_not_an_image():
    with pytest.raises(PhotoRejected) as exc:
        photo_check(content=image_bytes(2)[:300])
    assert exc.value.reason == "not_image"


def test_other_image_formats_are_refused():
    with pytest.raises(PhotoRejected) as exc:
        photo_check(content=image_bytes(3, fmt="GIF"))
    assert exc.value.reason == "format"


def test_a_short_side_below_the_minimum_is_refused(settings):
    settings.PHOTO_MIN_RESOLUTION = 512
    with pytest.raises(PhotoRejected) as exc:
        photo_check(content=image_bytes(4, size=(1024, 500)))
    assert exc.value.reason == "resolution"
    assert exc.value.params["minimum"] == 512


def test_a_file_over_the_size_limit_is_refused_before_decoding(settings):
    content = image_bytes(5)
    settings.PHOTO_MAX_SIZE = len(content) - 1
    with pytest.raises(PhotoRejected) as exc:
        photo_check(content=content)
    assert exc.value.reason == "too_large"
