"""Tests for singan_tf.image_io; every input image is generated in tmp_path."""

import hashlib
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from singan_tf.errors import SinganError
from singan_tf.image_io import image_hash, load_image, make_grid, read_image, save_grid, save_image, to_uint8

RNG = np.random.default_rng(0)
PALETTE = [10, 20, 30, 200, 100, 50] + [0] * (256 * 3 - 6)


def _random_rgb(height=17, width=23):
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _scaled(values, maximum):
    return np.asarray(values, np.float64) / maximum * 2 - 1


def _saved(picture, path, **options):
    picture.save(path, **options)
    return path


def _written(path, data):
    path.write_bytes(data)
    return path


def _assert_clear_error(excinfo, path):
    message = str(excinfo.value)
    assert "\n" not in message
    assert os.path.basename(path) in message


def test_rgb_png_round_trip_is_exact(tmp_path):
    pixels = _random_rgb()
    loaded = load_image(_saved(Image.fromarray(pixels), tmp_path / "rgb.png"))
    assert loaded.dtype == np.float32 and loaded.shape == pixels.shape
    np.testing.assert_allclose(loaded, _scaled(pixels, 255), atol=1e-6)
    np.testing.assert_array_equal(to_uint8(loaded), pixels)


def test_grayscale_is_replicated_to_three_channels(tmp_path):
    grey = np.array([[0, 1, 128], [200, 254, 255]], np.uint8)
    loaded = load_image(_saved(Image.fromarray(grey), tmp_path / "grey.png"))
    assert loaded.shape == (2, 3, 3)
    for channel in range(3):
        np.testing.assert_allclose(loaded[..., channel], _scaled(grey, 255), atol=1e-6)


def test_rgba_drops_alpha_and_keeps_colour(tmp_path):
    rgba = np.array([[[7, 8, 9, 0], [100, 150, 200, 128], [1, 2, 3, 255]]], np.uint8)
    loaded = load_image(_saved(Image.fromarray(rgba), tmp_path / "rgba.png"))
    np.testing.assert_array_equal(to_uint8(loaded), rgba[..., :3])


def test_la_drops_alpha_and_replicates_grey(tmp_path):
    la = np.array([[[7, 0], [200, 255]]], np.uint8)
    loaded = load_image(_saved(Image.fromarray(la), tmp_path / "la.png"))
    np.testing.assert_array_equal(to_uint8(loaded), [[[7, 7, 7], [200, 200, 200]]])


@pytest.mark.parametrize("transparency", [None, 0, bytes([0, 128])])
def test_palette_uses_palette_colours_ignoring_transparency(tmp_path, transparency):
    palette = Image.new("P", (2, 1))
    palette.putpalette(PALETTE)
    palette.putdata([0, 1])
    options = {} if transparency is None else {"transparency": transparency}
    path = _saved(palette, tmp_path / "palette.png", **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns when P with byte transparency goes to RGB
        loaded = load_image(path)
    np.testing.assert_array_equal(to_uint8(loaded), [[[10, 20, 30], [200, 100, 50]]])


def test_16_bit_grayscale_png_keeps_precision(tmp_path):
    values = np.array([[0, 1000], [60000, 65535]], np.uint16)
    path = _saved(Image.fromarray(values), tmp_path / "deep.png")
    with Image.open(path) as reopened:
        assert reopened.mode == "I;16"  # the case Pillow's convert('RGB') would clip
    loaded = load_image(path)
    for channel in range(3):
        np.testing.assert_allclose(loaded[..., channel], _scaled(values, 65535), atol=1e-6)


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.array([[0, 1000, 70000, -5]], np.int32), _scaled([[0, 1000, 65535, 0]], 65535)),
        (np.array([[0, 0.25, 1.5, -0.5]], np.float32), _scaled([[0, 0.25, 1, 0]], 1)),
    ],
    ids=["I", "F"],
)
def test_32_bit_integer_and_float_modes_are_scaled_and_clipped(tmp_path, values, expected):
    loaded = load_image(_saved(Image.fromarray(values), tmp_path / "wide.tif"))
    np.testing.assert_allclose(loaded[..., 1], expected, atol=1e-6)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = _saved(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    loaded = load_image(path)
    assert loaded.shape == (8, 8, 3)
    np.testing.assert_allclose(to_uint8(loaded)[0, 0], [255, 0, 0], atol=8)


def test_exif_orientation_is_honoured(tmp_path):
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = [255, 0, 0]
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    loaded = load_image(_saved(Image.fromarray(pixels), tmp_path / "rotated.png", exif=exif))
    assert loaded.shape == (3, 2, 3)
    np.testing.assert_array_equal(to_uint8(loaded)[0, 1], [255, 0, 0])


def test_multi_frame_gif_gives_first_frame(tmp_path):
    first, second = (Image.new("RGB", (4, 4), colour) for colour in [(255, 0, 0), (0, 0, 255)])
    loaded = load_image(_saved(first, tmp_path / "anim.gif", save_all=True, append_images=[second]))
    np.testing.assert_array_equal(to_uint8(loaded)[0, 0], [255, 0, 0])


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_is_reported(tmp_path, suffix):
    path = _saved(Image.fromarray(_random_rgb(64, 64)), tmp_path / f"whole{suffix}")
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SinganError, match="truncated") as excinfo:
        load_image(cut)
    _assert_clear_error(excinfo, cut)


@pytest.mark.parametrize(
    "make_path, expected",
    [
        (lambda tmp: tmp / "missing.png", "No such file"),
        (lambda tmp: tmp, "directory"),
        (lambda tmp: _written(tmp / "notes.png", b"just some text\n" * 10), "not an image"),
    ],
    ids=["missing", "directory", "text"],
)
def test_unreadable_paths_are_reported(tmp_path, make_path, expected):
    path = make_path(tmp_path)
    with pytest.raises(SinganError, match=expected) as excinfo:
        load_image(path)
    _assert_clear_error(excinfo, path)


def test_decompression_bomb_names_pixels_and_limit(tmp_path, monkeypatch):
    path = _saved(Image.new("RGB", (5, 5)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # errors above twice the limit
    with pytest.raises(SinganError, match=r"25 pixels.*limit of 20 pixels") as excinfo:
        load_image(path)
    _assert_clear_error(excinfo, path)


def test_zero_size_image_is_reported(tmp_path, monkeypatch):
    # Pillow's own decoders refuse zero sizes, so stand in for a plugin that does not.
    path = _saved(Image.new("RGB", (1, 1)), tmp_path / "empty.png")
    monkeypatch.setattr(Image, "open", lambda _: Image.new("RGB", (0, 4)))
    with pytest.raises(SinganError, match="zero size") as excinfo:
        load_image(path)
    _assert_clear_error(excinfo, path)


def test_to_uint8_clips_and_rounds():
    values = np.array([[[-2.0, -1.0, 0.0], [1.0, 2.0, 2 * 100.4 / 255 - 1]]])
    np.testing.assert_array_equal(to_uint8(values), [[[0, 0, 128], [255, 255, 100]]])
    assert to_uint8(np.zeros((4, 2, 3, 3))).shape == (4, 2, 3, 3)


class _TensorLike:
    """Stands in for a tf.Tensor (importing TensorFlow would take seconds)."""

    def __init__(self, array):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array


def test_save_image_replaces_an_existing_file_without_leftovers(tmp_path):
    pixels = _random_rgb()
    (tmp_path / "out").mkdir()
    path = _written(tmp_path / "out" / "sample.png", b"stale")
    batch = load_image(_saved(Image.fromarray(pixels), tmp_path / "in.png"))[np.newaxis]
    save_image(_TensorLike(batch), path)
    assert os.listdir(path.parent) == ["sample.png"]
    np.testing.assert_array_equal(to_uint8(load_image(path)), pixels)


def test_save_image_creates_missing_parents_and_follows_extension(tmp_path):
    path = tmp_path / "a" / "b" / "sample.jpg"
    save_image(np.zeros((4, 5, 3), np.float32), path)
    with Image.open(path) as written:
        assert (written.format, written.size) == ("JPEG", (5, 4))


def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def refuse(source, destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SinganError, match="Permission denied") as excinfo:
        save_image(np.zeros((4, 4, 3)), tmp_path / "out.png")
    _assert_clear_error(excinfo, tmp_path / "out.png")
    assert os.listdir(tmp_path) == []


def test_save_image_rejects_unwritable_extension(tmp_path):
    with pytest.raises(SinganError, match=r"\.xyz"):
        save_image(np.zeros((4, 4, 3)), tmp_path / "out.xyz")


def test_make_grid_sizes_columns_and_rows_to_their_largest_tile():
    shapes = [(10, 20), (5, 5), (30, 8), (4, 40)]
    shades = [-0.8, -0.4, 0.4, 0.8]
    images = [np.full((h, w, 3), shade) for (h, w), shade in zip(shapes, shades)]
    grid = make_grid(images, columns=2, pad=2)
    # columns: max(20, 8) and max(5, 40) wide; rows: max(10, 5) and max(30, 4) tall
    assert grid.shape == (2 + 10 + 2 + 30 + 2, 2 + 20 + 2 + 40 + 2, 3)
    assert grid.dtype == np.uint8 and grid.flags.writeable
    assert tuple(grid[0, 0]) == (128, 128, 128)
    for (h, w), shade in zip(shapes, shades):
        assert np.count_nonzero(np.all(grid == to_uint8(np.full(3, shade)), axis=-1)) == h * w


def test_make_grid_defaults_to_a_square_ish_layout():
    grid = make_grid([np.zeros((4, 4, 3))] * 5, pad=1)
    assert grid.shape == (1 + 2 * (4 + 1), 1 + 3 * (4 + 1), 3)  # ceil(sqrt(5)) = 3 columns


def test_make_grid_labels_add_a_text_band_under_the_tiles():
    images = [np.ones((30, 30, 3))] * 2
    plain = make_grid(images, columns=2)
    labelled = make_grid(images, columns=2, labels=["a", "b"])
    assert labelled.shape[1] == plain.shape[1]
    assert labelled.shape[0] > plain.shape[0]
    np.testing.assert_array_equal(labelled[: plain.shape[0] - 2], plain[:-2])
    assert labelled[plain.shape[0] :].min() < 64  # dark text on the grey background


def test_make_grid_widens_a_column_for_a_long_label():
    grid = make_grid([np.ones((2, 2, 3))], pad=0, labels=["scale 0: 2x2 px"])
    assert grid.shape[1] > 2


def test_save_grid_writes_the_grid(tmp_path):
    images = [np.zeros((3, 3, 3)), np.ones((6, 2, 3))]
    path = tmp_path / "grid.png"
    save_grid(images, path, labels=["x", "y"])
    with Image.open(path) as written:
        np.testing.assert_array_equal(np.asarray(written), make_grid(images, labels=["x", "y"]))


def test_image_hash_is_sha256_of_the_file(tmp_path):
    path = _written(tmp_path / "any.bin", bytes(range(256)) * 1000)
    assert image_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SinganError, match="missing.png"):
        image_hash(tmp_path / "missing.png")


@pytest.mark.parametrize("shape, dtype", [((5, 7, 3), np.uint8), ((5, 7), np.uint8), ((5, 7, 4), np.uint8),
                                          ((5, 7), np.uint16)], ids=["RGB", "L", "RGBA", "I;16"])
def test_arrays_and_pil_images_read_like_the_file_they_would_be(tmp_path, shape, dtype):
    """A notebook's array, its PIL image and the PNG written from it give the same training pixels."""
    values = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    picture = Image.fromarray(values)
    picture.save(tmp_path / "image.png")
    from_file = load_image(tmp_path / "image.png")
    np.testing.assert_array_equal(read_image(values), from_file)
    np.testing.assert_array_equal(read_image(picture), from_file)
    np.testing.assert_array_equal(read_image(str(tmp_path / "image.png")), from_file)
    if values.ndim == 2:
        np.testing.assert_array_equal(read_image(values[..., None]), from_file)


def test_float_arrays_are_taken_in_zero_to_one():
    np.testing.assert_array_equal(read_image(np.array([[0.0, 0.5, 2.0]]))[0, :, 0], np.array([-1.0, 0.0, 1.0]))


@pytest.mark.parametrize("source, expected", [
    (np.zeros((4, 4, 2), np.uint8), r"shape \[H, W\].*got \[4, 4, 2\]"),
    (np.zeros((0, 4, 3), np.uint8), "got \\[0, 4, 3\\]"),
    (np.zeros((4, 4), np.int64), "uint8, uint16 or float values, got int64"),
    (42, "expected an image file, a PIL image or an array, got int"),
])
def test_arrays_that_are_not_images_are_one_line_errors(source, expected):
    with pytest.raises(SinganError, match=expected):
        read_image(source)


def test_uint8_pixels_are_saved_as_they_are(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, size=(6, 9, 3), dtype=np.uint8)
    save_image(pixels, tmp_path / "pixels.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "pixels.png")), pixels)
    np.testing.assert_array_equal(to_uint8(pixels), pixels)
