"""From the music's valence/arousal to a legible facial expression (17 AU intensities).

Two steps, one object per stream (:class:`ExpressionMapper`), pure functions of the hop sequence:

1. **Per-song normalisation.** Most music lives in a small region of the valence/arousal
   plane (|v|, |a| ≈ 0.25), where no expression reads. As deepsing does with song-level
   statistics (Passalis & Doropoulos, "deepsing", section 3: sentiment normalised per song),
   a running mean and standard deviation over the last ``window_s`` seconds turn each hop into
   a deviation from the song's own centre, which is added to the absolute value:
   ``e = level_gain · (x − centre) + swing_gain · (x − μ) / max(σ, floor)``, clipped to the
   unit disc.
   The ``floor`` on σ keeps steady music and silence calm: small wobbles stay small.
2. **Circumplex → AUs.** The expressed point ``e`` is placed on Russell's circumplex among the
   basic expressions (:data:`EXPRESSIONS`, angle 0° = positive valence, 90° = high arousal); its
   angle picks the two neighbouring expressions' AU prototypes, which crossfade over the middle
   :data:`BLEND` of the angle between them (a half-and-half mixture reads as neither), and its
   radius scales their intensity (full at :data:`FULL_RADIUS`). The origin is the neutral face
   (all AUs 0).

The AU prototypes are FACS/EMFACS sets (Ekman & Friesen), with the rounded "O" mouth of
surprise (AU23 + AU14 with the jaw drop) and the raised upper lip of anger and disgust (AU10);
their intensities were chosen by a coordinate search on livevis's own face rig so that a
FER2013 face-reading network reads each top-1 as intended at 1280x720
(``tools/legibility.py --prototypes`` measures it). All are in [0, 1]. Sadness departs most
from the EMFACS set (AU1+4+15): on this rig the brows and the lip-corner depressor made the
network read anger and fear beside sadness (a sad song's face read as *aroused*), so sadness
is drooping lids, the chin raise and parted lips (AU45, AU17, AU25) with half the inner-brow
raise and lip-corner depressor, searched so that the viewer's arousal stays low from half to
full intensity on the 3D face and the portrait still reads sad.
"""

from __future__ import annotations

import math

import numpy as np

from livevis.analysis.state import AU_INDEX, AU_NAMES

#: Basic expressions: (angle on the circumplex in degrees, {AU: intensity}). Neutral is the
#: origin. Low arousal is "calm" (the neutral face: quiet music does not grimace) between sad
#: and "content" (a soft smile for calm, positive music).
EXPRESSIONS: dict[str, tuple[float, dict[str, float]]] = {
    "happy": (15.0, {"AU06": 0.5, "AU10": 0.75, "AU12": 0.96, "AU26": 0.25}),
    "surprised": (80.0, {"AU01": 0.24, "AU02": 0.96, "AU05": 0.72, "AU14": 0.96, "AU23": 1.0,
                         "AU25": 0.96, "AU26": 0.75}),
    "afraid": (110.0, {"AU01": 0.85, "AU04": 0.85, "AU05": 0.75, "AU20": 1.0, "AU25": 0.25, "AU26": 0.25}),
    "angry": (135.0, {"AU04": 0.75, "AU07": 0.5, "AU10": 0.96, "AU17": 0.24, "AU23": 0.75}),
    "disgusted": (160.0, {"AU06": 0.5, "AU07": 0.25, "AU09": 1.0, "AU10": 0.75, "AU15": 1.0, "AU17": 0.75,
                         "AU20": 0.75, "AU25": 0.75, "AU26": 0.25}),
    "sad": (195.0, {"AU01": 0.5, "AU15": 0.5, "AU17": 1.0, "AU25": 1.0, "AU45": 0.35}),
    "calm": (270.0, {}),
    "content": (320.0, {"AU06": 0.1, "AU12": 0.35}),
}
#: The seven expressions a viewer must read (the six basic ones and neutral).
BASIC = ("neutral", "happy", "sad", "angry", "surprised", "afraid", "disgusted")
#: Radius of the expressed point at which an expression reaches its full intensity.
FULL_RADIUS = 0.8
#: Fraction of the angle between two neighbouring expressions over which one crossfades into the
#: other (1: a linear blend all the way; smaller: each expression holds its sector longer, so
#: the face seldom shows a half-and-half mixture that reads as neither).
BLEND = 0.4


def prototype_aus(name: str) -> np.ndarray:
    """The AU vector, float32 (17,) in :data:`AU_NAMES` order, of expression ``name``
    (one of :data:`BASIC`, ``"calm"`` or ``"content"``).

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    out = np.zeros(len(AU_NAMES), np.float32)
    if name == "neutral":
        return out
    if name not in EXPRESSIONS:
        raise ValueError(f"unknown expression {name!r}; choose one of neutral, {', '.join(EXPRESSIONS)}")
    for au, v in EXPRESSIONS[name][1].items():
        out[AU_INDEX[au]] = v
    return out


_ANGLES = np.array([a for a, _ in EXPRESSIONS.values()])
_PROTOS = np.stack([prototype_aus(n) for n in EXPRESSIONS])


def circumplex_aus(valence: float, arousal: float) -> np.ndarray:
    """AU intensities, float32 (17,) in [0, 1], for an expressed point on the circumplex.

    Args:
        valence, arousal: the expressed point, each in [-1, 1] (the radius is clipped to 1).
    """
    r = min(math.hypot(valence, arousal), 1.0)
    if r < 1e-6:
        return np.zeros(len(AU_NAMES), np.float32)
    theta = math.degrees(math.atan2(arousal, valence)) % 360.0
    k = int(np.searchsorted(_ANGLES, theta) % len(_ANGLES))  # the expression at or after theta
    j = (k - 1) % len(_ANGLES)
    span = (_ANGLES[k] - _ANGLES[j]) % 360.0
    w = ((theta - _ANGLES[j]) % 360.0) / span
    if BLEND < 1.0:
        w = min(max((w - 0.5) / BLEND + 0.5, 0.0), 1.0)
        w = w * w * (3.0 - 2.0 * w)
    intensity = min(r / FULL_RADIUS, 1.0)
    intensity = intensity * intensity * (3.0 - 2.0 * intensity)  # smoothstep: gentle near neutral
    return ((1.0 - w) * _PROTOS[j] + w * _PROTOS[k]) * np.float32(intensity)


class ExpressionMapper:
    """Streaming valence/arousal → expressed point → AUs, with per-song normalisation.

    Args:
        hop_s: seconds between updates (> 0).
        window_s: time constant of the running song statistics, seconds (> 0).
        level_gain: gain on the absolute valence/arousal (>= 0).
        swing_gain: gain on the normalised deviation from the song's running mean (>= 0).
        floor: lower bound on the running standard deviation (> 0); swings smaller than this
            are not blown up, so steady music and silence stay calm.
        rest_s: time constant of the return to the neutral face while the input is silent.
        centre: the (valence, arousal) shown as the neutral face. Arousal -0.12 is typical music
            as the emotion model reads it: between the emoMusic raters' mean (+0.03), which the
            model was calibrated to, and its mean over the immich-memories-music tracks (-0.21).
            A lower centre or a larger ``swing_gain`` moves the face more within calm songs
            (``tools/legibility.py --range``) but carries less of the raters' arousal across
            songs (``--clips``: centre -0.17 with swing 0.4 dropped the default preset's arousal
            r from 0.63 to 0.53; with today's prototypes and the face alone at 640x360, -0.1 gave
            0.62 and -0.12 0.64).

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(self, hop_s: float = 0.1, window_s: float = 30.0, level_gain: float = 3.0,
                 swing_gain: float = 0.35, floor: float = 0.12, rest_s: float = 1.5,
                 centre: tuple[float, float] = (0.0, -0.12)) -> None:
        if hop_s <= 0 or window_s <= 0 or floor <= 0 or rest_s <= 0 or level_gain < 0 or swing_gain < 0:
            raise ValueError("hop_s, window_s, floor, rest_s must be > 0 and the gains >= 0")
        self.hop_s, self.window_s, self.level_gain = float(hop_s), float(window_s), float(level_gain)
        self.swing_gain, self.floor, self.rest_s = float(swing_gain), float(floor), float(rest_s)
        self.centre = np.asarray(centre, np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the song statistics (a new song or stream)."""
        self._n = 0
        self._mean = np.zeros(2)
        self._var = np.zeros(2)
        self.expressed = np.zeros(2)  #: the last expressed (valence, arousal), unit disc

    def update(self, valence: float, arousal: float, active: bool = True) -> np.ndarray:
        """One hop: the music's ``valence``, ``arousal`` in [-1, 1] → AUs, float32 (17,).

        ``active`` False (gated silence) eases the face back to neutral and leaves the song
        statistics untouched.
        """
        if not active:
            k = 1.0 - math.exp(-self.hop_s / self.rest_s)
            self.expressed = self.expressed * (1.0 - k)
            return circumplex_aus(*self.expressed)
        x = np.array([valence, arousal], np.float64)
        self._n += 1
        # running statistics: plain average at first, then exponential with time constant window_s
        alpha = max(1.0 / self._n, 1.0 - math.exp(-self.hop_s / self.window_s))
        d = x - self._mean
        self._mean = self._mean + alpha * d
        self._var = (1.0 - alpha) * (self._var + alpha * d * d)
        z = (x - self._mean) / np.maximum(np.sqrt(self._var), self.floor)
        e = self.level_gain * (x - self.centre) + self.swing_gain * z
        r = float(np.hypot(*e))
        if r > 1.0:
            e = e / r
        self.expressed = e
        return circumplex_aus(*e)
