"""The shipped keyframe library (issue 14): manifest, fetch and its failures, themes in presets,
colour attributes of the real pictures, the clean fallback without the library, and the sharp
(Catmull-Rom) upscale of the image layer on a real GL context.

The pictures are the real ones, installed by ``python -m livevis.render.latent.library``
(tools/setup.sh); tests that need them skip, with the reason, where it has not run."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest

from livevis.control.presets import PresetError, default_preset, list_presets, load_preset
from livevis.render.latent import library
from livevis.render.latent.keyframes import cover_fit, estimate_valence_arousal, load_image

from conftest import require_keyframe_library

PRESETS_WITH_LATENT = ("keyframes", "ambient", "club")


@pytest.fixture(scope="module")
def installed() -> Path:
    """The installed library folder, or skip."""
    return require_keyframe_library()


def test_manifest_names_author_licence_and_pins_for_every_picture():
    packages, pictures = library.manifest()
    assert len(pictures) >= 24 and set(library.themes()) == {"nature", "night", "abstract"}
    for pkg in packages.values():
        assert pkg.url.startswith("https://deb.debian.org/debian/pool/") and len(pkg.sha256) == 64
    for pic in pictures:
        assert pic.author and pic.licence in {"GPL-2+", "CC-BY-SA-3.0", "CC-BY-SA-4.0"}
        assert len(pic.sha256) == 64 and pic.package in packages
    names = [(p.theme, p.filename) for p in pictures]
    assert len(set(names)) == len(names), "two pictures would share one file"


def test_installed_pictures_match_their_pins_and_are_high_resolution(installed):
    pictures = library.manifest()[1]
    paths = library.theme_paths(library.themes(), installed, verify=True)
    assert len(paths) == len(pictures)
    for path in paths:
        h, w = load_image(path).shape[:2]
        assert min(h, w) >= 900, f"{path.name}: {w}x{h} is not high resolution"


def test_colour_attributes_of_the_real_pictures_follow_the_themes(installed):
    """Checked by eye as well (the report lists every picture's estimate): the dark aurora and
    dark patterns of ``night`` are less pleasant than the sunlit photographs of ``nature``; the
    pale calm pictures (a water drop, bleached wood) are calmer than saturated flowers."""
    def va(theme):
        return np.array([estimate_valence_arousal(cover_fit(load_image(p), (256, 256)))
                         for p in library.theme_paths([theme], installed)])

    night, nature = va("night"), va("nature")
    assert night[:, 0].mean() < nature[:, 0].mean() - 0.5
    calm = [estimate_valence_arousal(cover_fit(load_image(installed / "nature" / n), (256, 256)))[1]
            for n in ("Aqua.jpg", "Wood.jpg")]
    lively = [estimate_valence_arousal(cover_fit(load_image(installed / "nature" / n), (256, 256)))[1]
              for n in ("Garden.jpg", "YellowFlower.jpg")]
    assert max(calm) < min(lively) - 1.0
    # the themes together spread over the valence/arousal plane: the chooser has a choice
    allva = np.concatenate([night, nature, va("abstract")])
    assert np.ptp(allva[:, 0]) > 1.5 and np.ptp(allva[:, 1]) > 1.5


def test_fetch_skips_an_intact_library_without_network(installed):
    def no_network(url, dest):
        raise AssertionError(f"downloaded {url} although every picture is intact")

    assert library.fetch_library(installed, download=no_network, say=lambda m: None) == installed


def test_fetch_failures_are_one_line_errors_and_leave_nothing_behind(tmp_path):
    def offline(url, dest):
        raise urllib.error.URLError("Temporary failure in name resolution")

    with pytest.raises(library.LibraryError) as err:
        library.fetch_library(tmp_path, download=offline, say=lambda m: None)
    msg = str(err.value)
    assert "\n" not in msg and "cannot download https://deb.debian.org/" in msg and "name resolution" in msg

    def wrong_file(url, dest):  # a real file, but not the pinned package
        Path(dest).write_bytes(Path(library.MANIFEST).read_bytes())

    with pytest.raises(library.LibraryError, match="sha256 .* does not match the pinned"):
        library.fetch_library(tmp_path, download=wrong_file, say=lambda m: None)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [], "no partial download is left"


def test_shipped_presets_use_library_themes_and_no_noise_keyframes():
    presets = {name: load_preset(name) for name in PRESETS_WITH_LATENT}
    presets["default"] = default_preset()
    for name, p in presets.items():
        assert p.latent.themes, f"{name}: no library themes"
        assert all(k.seed is None for k in p.latent.keyframes), f"{name}: generated noise keyframes"
    for name, _path, err in list_presets():
        assert err is None, f"{name}: {err}"
        assert all(k.seed is None for k in load_preset(name).latent.keyframes), f"{name}: seed keyframes"


def test_unknown_theme_is_a_one_line_preset_error_listing_the_themes(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[latent]\nthemes = ["nature", "jungle"]\n')
    with pytest.raises(PresetError) as err:
        load_preset(f)
    assert "latent.themes[1]: unknown theme 'jungle'; themes: nature, night, abstract" in str(err.value)


def test_theme_keyframes_feed_the_stream_with_estimated_attributes(installed):
    from livevis.render.latent.layer import preset_keyframes

    kfs, note = preset_keyframes(load_preset("ambient"))
    assert note is None
    assert [Path(k["path"]).parent.name for k in kfs] == ["nature"] * 12 + ["abstract"] * 8
    assert all(k["valence"] is None and k["arousal"] is None for k in kfs), "estimated from colours at load"


def test_without_the_library_the_layer_is_off_with_one_line_note(tmp_path, monkeypatch):
    from livevis.render.latent.layer import LatentLayerDriver

    monkeypatch.setenv("LIVEVIS_KEYFRAMES_DIR", str(tmp_path / "none"))
    said = []

    class Layer:
        def set_image(self, image):
            raise AssertionError("nothing to show")

    drv = LatentLayerDriver(load_preset("keyframes"), Layer(), say=said.append, synchronous=True)
    assert drv.engine is None
    assert said == [drv.message] and "\n" not in drv.message
    assert drv.message.startswith("latent image layer disabled: keyframe library not installed") and "python -m livevis.render.latent.library" in drv.message


# ------------------------------------------------------------------ sharp upscale

def test_image_layer_upscales_with_catmull_rom_not_bilinear(ctx, installed):
    """A real 64² picture shown at 256² matches Pillow's bicubic (Catmull-Rom, a = −0.5) upscale
    far better than its bilinear one, and keeps more edge contrast than bilinear."""
    from PIL import Image

    from livevis.render import Compositor, ImageLayer
    from livevis.analysis.state import AnalysisState

    small = cover_fit(load_image(installed / "nature" / "LadyBird.jpg"), (64, 64))
    comp = Compositor(ctx, 256, 256, [ImageLayer(ctx)])
    try:
        comp.layers[0].set_image(small)
        comp.render(AnalysisState(), 0.0)
        shown = comp.read_rgb().astype(np.float64)
    finally:
        comp.release()

    def up(resample):
        return np.asarray(Image.fromarray(small).resize((256, 256), resample), dtype=np.float64)

    inner = (slice(8, -8), slice(8, -8))  # edge handling differs at the border
    err_cubic = np.abs(shown - up(Image.Resampling.BICUBIC))[inner].mean()
    err_linear = np.abs(shown - up(Image.Resampling.BILINEAR))[inner].mean()
    assert err_cubic < 1.5 and err_cubic < 0.5 * err_linear, (err_cubic, err_linear)

    def sharpness(img):  # mean squared horizontal gradient: high-frequency energy
        return (np.diff(img.mean(axis=2), axis=1) ** 2)[inner].mean()

    assert sharpness(shown) > 1.15 * sharpness(up(Image.Resampling.BILINEAR))
