"""The `galaxies` corpus generator: GalSim-rendered galaxy images with Galaxy Zoo 2 style answers.

One image, from a seed:

1. **Morphology** (`sample_params`): a class (smooth elliptical 30 %, disk 50 %, irregular 6 %, merger 8 %,
   star or artefact 3 %, edge-on disks drawn as inclined disks), then the parameters that class needs: Sérsic bulge
   (index 1–6, quantised to 0.5 so that GalSim's Sérsic tables are reused; half-light radius; axis ratio),
   inclined exponential disk (scale radius and height, inclination 0–90° — edge-on included — position angle),
   bulge-to-total ratio; spiral arms (1–6 arms, pitch 8–40°, amplitude), bar (length, axis ratio, strength), ring,
   star-forming clumps, a dust lane for edge-on disks, a boxy bulge flag; for mergers a second galaxy and a
   tidal tail; field stars; and with small probabilities the SDSS-style artefacts (a dead-pixel black line, a
   satellite trail). Sizes follow the Galaxy Zoo images, which are scaled to the galaxy (it fills about half the
   424-pixel frame).
2. **Rendering** (`render`): GalSim draws the PSF-convolved Sérsic bulge and inclined exponential disk
   (`galsim.Sersic`, `galsim.InclinedExponential`, a double-Gaussian PSF); arms, bar, ring, clumps, tails and the
   companion's light are cheap numpy maps in the disk's plane, convolved with the same PSF (drawn by GalSim) by
   FFT, so the expensive GalSim draws are two per image. Three bands (g, r, i) get each component with its own
   colour (red bulges, bluer disks, blue clumps and arms), then Poisson-like and Gaussian sky noise, an asinh
   (Lupton-style) stretch to RGB, and a bilinear upsampling from `render_size` to 424×424 (the Galaxy Zoo images
   are resampled too).
3. **Answers** (`answer_distributions`, `volunteer_answers`): each question's answer distribution follows from
   the generating parameters (e.g. P(edge-on) rises steeply past 75° inclination, P(bar) with bar strength,
   P(bulge prominence) from B/T, fainter/smaller galaxies are more ambiguous), then 40–50 simulated volunteers
   walk the real decision tree (Table A.1) sampling those distributions; their vote fractions are turned into
   cumulative answers as in the competition (`mirjax.galaxy_tree`), Q6 normalised over everybody.

What it cannot imitate: real stellar populations and colour gradients (colours are per component, fixed
ranges), dust geometry beyond one lane, realistic spiral-arm structure (arms are smooth logarithmic spirals
with clumps, no flocculence), the SDSS's exact noise, bleeding and deblending artefacts, lensing arcs beyond
thin circular arcs, real volunteer biases (the vote model only blurs the generator's own answer), and the real
catalogue's joint distribution of morphologies. A network that does well here has learned these rules, not
Galaxy Zoo.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import signal

from mirjax import galaxy_tree

IMAGE_SIZE = 424
CLASSES = ("elliptical", "disk", "irregular", "merger", "star")
CLASS_P = (0.30, 0.53, 0.06, 0.08, 0.03)


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def sample_params(seed: int, index: int) -> dict:
    """The generating parameters of image `index` (sizes in pixels of the 424×424 image)."""
    rng = _rng(seed, index)
    cls = CLASSES[rng.choice(len(CLASSES), p=CLASS_P)]
    p: dict = {"class": cls, "index": index}
    p["psf_fwhm"] = float(rng.uniform(3.0, 6.5))
    p["noise"] = float(np.exp(rng.uniform(np.log(0.004), np.log(0.03))))  # sky noise (flux units of the stretch)
    p["flux"] = float(np.exp(rng.uniform(np.log(0.8), np.log(4.0))))
    p["size"] = float(np.exp(rng.uniform(np.log(18), np.log(62))))  # half-light-ish radius
    p["pa"] = float(rng.uniform(0, math.pi))
    p["center"] = [float(x) for x in rng.normal(0, 1.5, 2)]
    p["bulge_n"] = float(np.round(rng.uniform(2.5, 6.0) * 2) / 2)
    p["bulge_q"] = float(rng.uniform(0.35, 1.0))
    p["bt"] = 1.0
    p["incl"] = 0.0
    p.update(arms=0, pitch=20.0, arm_amp=0.0, bar=0.0, bar_len=0.0, bar_q=0.3, ring=0.0, clumps=0, dust=0.0,
             boxy=False, merger=False, tail=0.0, arc=0.0, artefact="", disturb=0.0)
    if cls == "elliptical":
        p["bulge_q"] = float(rng.choice([rng.uniform(0.8, 1.0), rng.uniform(0.45, 0.8), rng.uniform(0.2, 0.45)],
                                        p=[0.45, 0.45, 0.10]))
    elif cls in ("disk", "irregular", "merger"):
        p["bulge_n"] = float(np.round(rng.uniform(1.0, 4.0) * 2) / 2)
        p["bulge_q"] = float(rng.uniform(0.7, 1.0))
        p["bt"] = float(rng.beta(1.6, 3.2))
        p["incl"] = float(np.degrees(np.arccos(rng.uniform(0.0, 1.0))))  # isotropic orientations
        p["disk_h"] = float(rng.uniform(0.06, 0.15))  # scale height / scale radius
        if p["incl"] < 72 and cls == "disk":
            if rng.random() < 0.72:
                p["arms"] = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.05, 0.55, 0.17, 0.1, 0.07, 0.06]))
                p["pitch"] = float(rng.uniform(8, 40))
                p["arm_amp"] = float(rng.uniform(0.15, 1.0))
            if rng.random() < 0.35:
                p["bar"] = float(rng.uniform(0.15, 1.0))
                p["bar_len"] = float(rng.uniform(0.6, 1.4))
                p["bar_q"] = float(rng.uniform(0.2, 0.4))
            if rng.random() < 0.12:
                p["ring"] = float(rng.uniform(0.3, 1.0))
            if rng.random() < 0.3:
                p["clumps"] = int(rng.integers(2, 9))
        if p["incl"] >= 72 and rng.random() < 0.4:
            p["dust"] = float(rng.uniform(0.3, 0.9))
        if p["incl"] >= 72 and rng.random() < 0.08:
            p["boxy"] = True
        if cls == "irregular":
            p["clumps"] = int(rng.integers(6, 18))
            p["bt"] = float(rng.uniform(0.0, 0.15))
            p["disturb"] = float(rng.uniform(0.4, 1.0))
        if cls == "merger":
            p["merger"] = True
            p["companion"] = {"dist": float(rng.uniform(0.6, 1.8)), "angle": float(rng.uniform(0, 2 * math.pi)),
                              "ratio": float(rng.uniform(0.3, 1.0)), "size": float(rng.uniform(0.4, 0.9))}
            p["tail"] = float(rng.uniform(0.2, 1.0))
            p["disturb"] = float(rng.uniform(0.2, 0.8))
    if cls == "star":
        p["artefact"] = str(rng.choice(["star", "line", "trail"], p=[0.7, 0.15, 0.15]))
    elif rng.random() < 0.02:
        p["artefact"] = str(rng.choice(["line", "trail"]))
    if cls in ("elliptical", "disk") and rng.random() < 0.01:
        p["arc"] = float(rng.uniform(0.3, 1.0))
    p["stars"] = int(rng.poisson(1.2))
    p["star_seed"] = int(rng.integers(1 << 31))
    p["colour"] = {"bulge": [1.0, float(rng.uniform(1.4, 1.9)), float(rng.uniform(1.7, 2.4))],
                   "disk": [1.0, float(rng.uniform(1.1, 1.4)), float(rng.uniform(1.1, 1.6))],
                   "young": [1.0, float(rng.uniform(0.6, 0.9)), float(rng.uniform(0.4, 0.8))]}
    return p


# --- answers ---

def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _soft(weights) -> np.ndarray:
    w = np.maximum(np.asarray(weights, np.float64), 1e-6)
    return w / w.sum()


def answer_distributions(p: dict) -> dict[str, np.ndarray]:
    """What a volunteer would answer to each question of the tree, from the generating parameters."""
    cls = p["class"]
    visibility = min(1.0, p["size"] / 40.0) * min(1.0, 0.012 / p["noise"]) ** 0.3  # small/noisy → ambiguous
    d: dict[str, np.ndarray] = {}
    disk_features = (1 - p["bt"]) * 0.8 + p["arm_amp"] + p["bar"] + 0.5 * (p["clumps"] > 0) + (p["incl"] > 70)
    if cls == "star":
        d["Q1"] = _soft([0.06, 0.06, 0.88])
    elif cls == "elliptical":
        d["Q1"] = _soft([0.86, 0.12, 0.02])
    else:
        f = _sig(4.0 * (disk_features * visibility - 0.45))
        d["Q1"] = _soft([1 - f, f, 0.01])
    edge = _sig((p["incl"] - 76.0) / 3.5)
    d["Q2"] = _soft([edge, 1 - edge])
    bar = _sig((p["bar"] * visibility - 0.25) / 0.08) if p["bar"] > 0 else 0.06
    d["Q3"] = _soft([bar, 1 - bar])
    spiral = _sig((p["arm_amp"] * visibility - 0.2) / 0.07) if p["arms"] else 0.08
    d["Q4"] = _soft([spiral, 1 - spiral])
    centres = np.array([0.0, 0.12, 0.35, 0.7])
    d["Q5"] = _soft(np.exp(-((p["bt"] - centres) ** 2) / (2 * 0.09 ** 2)) + 0.03)
    odd_strength = max(p["ring"], p["tail"] if p["merger"] else 0.0, p["disturb"], p["dust"] * 0.8, p["arc"],
                       0.7 if p["artefact"] in ("line", "trail") else 0.0)
    odd = _sig((odd_strength * max(visibility, 0.5) - 0.3) / 0.1) if odd_strength > 0 else 0.07
    d["Q6"] = _soft([odd, 1 - odd])
    q = p["bulge_q"] if cls == "elliptical" else max(math.cos(math.radians(p["incl"])), 0.15)
    d["Q7"] = _soft(np.exp(-((q - np.array([0.95, 0.65, 0.3])) ** 2) / (2 * 0.11 ** 2)) + 0.02)
    d["Q8"] = _soft([p["ring"] * 2, p["arc"] * 2, p["disturb"] * (0.4 if p["merger"] else 1.0),
                     p["clumps"] / 8.0 if cls == "irregular" else 0.02,
                     0.2 + (1.5 if p["artefact"] else 0.0), (2.0 * p["tail"] if p["merger"] else 0.0),
                     p["dust"] * 2])
    d["Q9"] = _soft([0.1, 1.0, 0.02] if p["boxy"] else ([0.85, 0.03, 0.12] if p["bt"] > 0.12 else [0.2, 0.02, 0.8]))
    tight = np.array([12.0, 22.0, 34.0])
    d["Q10"] = _soft(np.exp(-((p["pitch"] - tight) ** 2) / (2 * 6.0 ** 2)) + 0.03)
    n = p["arms"]
    counts = np.full(6, 0.02)
    if n:
        counts[min(n, 5) - 1] += 1.0
        counts[max(min(n, 5) - 2, 0)] += 0.15
        counts[5] += 0.2 + 1.2 * (1 - min(1.0, p["arm_amp"] * visibility * 1.5))  # "can't tell"
    else:
        counts[5] += 1.0
    d["Q11"] = _soft(counts)
    return d


def volunteer_answers(dists: dict[str, np.ndarray], rng: np.random.Generator, volunteers: int) -> np.ndarray:
    """(37,) cumulative answers from `volunteers` simulated people walking the tree (Q6 over everybody who got
    there, as in the competition's data)."""
    names = [q.name for q in galaxy_tree.QUESTIONS]
    by_name = {q.name: q for q in galaxy_tree.QUESTIONS}
    votes = {n: np.zeros(len(by_name[n].answers)) for n in names}
    for _ in range(volunteers):
        q = "Q1"
        while q:
            a = int(rng.choice(len(dists[q]), p=dists[q]))
            votes[q][a] += 1
            q = by_name[q].next[a]
    cond = np.zeros(galaxy_tree.NUM_ANSWERS)
    for n in names:
        total = votes[n].sum()
        if total > 0:
            cond[galaxy_tree.SLICES[n]] = votes[n] / total
    return galaxy_tree.cumulative(cond).astype(np.float32)


# --- rendering ---

def _disk_plane(shape: int, center, pa: float, incl_deg: float, scale: float):
    """Deprojected (x, y) coordinates (in units of `scale`) of every pixel, for a disk at `pa`, `incl`."""
    yy, xx = np.mgrid[0:shape, 0:shape].astype(np.float32)
    c = (shape - 1) / 2.0
    x, y = xx - c - center[1], yy - c - center[0]
    ca, sa = math.cos(pa), math.sin(pa)
    u, v = x * ca + y * sa, -x * sa + y * ca
    cos_i = max(math.cos(math.radians(incl_deg)), 0.12)
    return u / scale, v / (cos_i * scale)


def _features_map(p: dict, n: int, s: float, rng: np.random.Generator):
    """(old, young) unconvolved light maps of the numpy components, in render pixels (scale s = n / 424)."""
    old = np.zeros((n, n), np.float32)
    young = np.zeros((n, n), np.float32)
    r_d = p["size"] * s / 1.68  # disk scale radius
    center = [c * s for c in p["center"]]
    u, v = _disk_plane(n, center, p["pa"], p["incl"], 1.0)
    r = np.sqrt(u * u + v * v) + 1e-3
    theta = np.arctan2(v, u)
    disk_flux = p["flux"] * (1 - p["bt"])
    norm = 1.0 / (2 * math.pi * r_d * r_d)
    if p["arms"]:
        k = 1.0 / math.tan(math.radians(p["pitch"]))
        phase = p["arms"] * (theta - k * np.log(r / r_d)) + rng.uniform(0, 2 * math.pi)
        pattern = np.clip(np.cos(phase), 0, None) ** 3
        taper = (1 - np.exp(-(r / (0.6 * r_d)) ** 2)) * np.exp(-r / (1.4 * r_d))
        young += p["arm_amp"] * disk_flux * norm * 1.6 * pattern * taper
    if p["bar"]:
        a, b = p["bar_len"] * r_d * 1.5, p["bar_len"] * r_d * 1.5 * p["bar_q"]
        ang = rng.uniform(0, math.pi)
        bu, bv = u * math.cos(ang) + v * math.sin(ang), -u * math.sin(ang) + v * math.cos(ang)
        old += p["bar"] * disk_flux * norm * 1.5 * np.exp(-((bu / a) ** 4 + (bv / b) ** 2) ** 0.8)
    if p["ring"]:
        rr = rng.uniform(1.5, 2.6) * r_d
        young += p["ring"] * disk_flux * norm * 0.8 * np.exp(-((r - rr) ** 2) / (2 * (0.18 * rr) ** 2))
    for _ in range(p["clumps"]):
        rc, tc = abs(rng.normal(0, 1.3 * r_d)), rng.uniform(0, 2 * math.pi)
        w = rng.uniform(0.6, 1.8) * s * 3
        young += disk_flux * norm * rng.uniform(0.5, 2.0) * np.exp(
            -((u - rc * math.cos(tc)) ** 2 + (v - rc * math.sin(tc)) ** 2) / (2 * w * w))
    if p["tail"]:
        t_ang = rng.uniform(0, 2 * math.pi)
        curve = np.exp(-((r - 2.2 * r_d) ** 2) / (2 * (0.3 * r_d) ** 2)) * np.exp(
            -(np.angle(np.exp(1j * (theta - t_ang))) ** 2) / (2 * 0.8 ** 2))
        old += p["tail"] * disk_flux * norm * 0.35 * curve
    if p["arc"]:
        rr, t_ang = 3.0 * r_d, rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2.0
        ra, ta = np.hypot(xx, yy), np.arctan2(yy, xx)
        young += p["arc"] * p["flux"] * norm * 0.5 * np.exp(-((ra - rr) ** 2) / (2 * (0.8 * s * 3) ** 2)) * np.exp(
            -(np.angle(np.exp(1j * (ta - t_ang))) ** 2) / (2 * 0.5 ** 2))
    return old, young


def render(p: dict, render_size: int = 212) -> np.ndarray:
    """The (424, 424, 3) uint8 RGB image of parameters `p`."""
    import galsim

    n, s = render_size, render_size / IMAGE_SIZE
    rng = np.random.default_rng([p["star_seed"], 7])
    gsp = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=1e-2, kvalue_accuracy=1e-4)
    # SDSS-like PSF: a core Gaussian plus a wider wing (analytic in Fourier space, so cheap to convolve with)
    fwhm = p["psf_fwhm"] * s
    psf = galsim.Add([galsim.Gaussian(fwhm=fwhm, flux=0.85), galsim.Gaussian(fwhm=2.5 * fwhm, flux=0.15)],
                     gsparams=gsp)
    psf_img = psf.drawImage(nx=21, ny=21, scale=1.0).array.astype(np.float32)
    offset = galsim.PositionD(p["center"][1] * s, p["center"][0] * s)
    col = {k: np.asarray(v, np.float32) for k, v in p["colour"].items()}
    bands = np.zeros((3, n, n), np.float32)  # g, r, i

    def draw(obj) -> np.ndarray:
        return galsim.Convolve(obj, psf, gsparams=gsp).drawImage(nx=n, ny=n, scale=1.0, offset=offset).array

    # fluxes are in units of the galaxy's size, so that its central surface brightness is O(flux)
    p = {**p, "flux": p["flux"] * 1.5 * (p["size"] * s) ** 2}
    if p["class"] != "star":
        hlr = p["size"] * s
        if p["bt"] > 0:
            bulge_r = hlr * (1.0 if p["class"] == "elliptical" else 0.35)
            bulge = galsim.Sersic(n=p["bulge_n"], half_light_radius=max(bulge_r, 0.8), gsparams=gsp,
                                  flux=p["flux"] * p["bt"])
            bulge = bulge.shear(q=p["bulge_q"] if not p["boxy"] else 0.55, beta=p["pa"] * galsim.radians)
            bands += col["bulge"][:, None, None] * draw(bulge)[None]
        if p["bt"] < 1:
            r_d = hlr / 1.68
            disk = galsim.InclinedExponential(math.radians(min(p["incl"], 89.5)) * galsim.radians,
                                              scale_radius=r_d, scale_h_over_r=p["disk_h"],
                                              flux=p["flux"] * (1 - p["bt"]), gsparams=gsp)
            disk = disk.rotate(p["pa"] * galsim.radians)
            img = draw(disk)
            if p["dust"]:
                u, v = _disk_plane(n, [c * s for c in p["center"]], p["pa"], 0.0, 1.0)
                img = img * (1 - p["dust"] * np.exp(-(v ** 2) / (2 * (0.05 * hlr + 0.7) ** 2)))
            bands += col["disk"][:, None, None] * img[None]
        old, young = _features_map(p, n, s, rng)
        if p["merger"]:
            c = p["companion"]
            dx, dy = c["dist"] * hlr * math.cos(c["angle"]), c["dist"] * hlr * math.sin(c["angle"])
            comp = galsim.Sersic(n=2.0, half_light_radius=max(hlr * c["size"] * 0.6, 0.8), gsparams=gsp,
                                 flux=p["flux"] * c["ratio"]).shear(q=0.7, beta=c["angle"] * galsim.radians)
            comp_img = galsim.Convolve(comp, psf, gsparams=gsp).drawImage(
                nx=n, ny=n, scale=1.0, offset=galsim.PositionD(offset.x + dx, offset.y + dy)).array
            bands += col["bulge"][:, None, None] * comp_img[None]
        if old.any() or young.any():
            both = signal.fftconvolve(np.stack([old, young]), psf_img[None], mode="same")
            bands += col["disk"][:, None, None] * both[0][None] + col["young"][:, None, None] * both[1][None]
    # stars: the central object of a star/artefact image, and field stars anywhere
    star_unit = 2 * math.pi * (p["psf_fwhm"] * s / 2.355) ** 2  # flux of a star whose peak is 1
    positions = [(0.0, 0.0, star_unit * 8.0)] if p["artefact"] == "star" else []
    positions += [(rng.uniform(-0.45, 0.45) * n, rng.uniform(-0.45, 0.45) * n,
                   star_unit * float(np.exp(rng.uniform(np.log(0.1), np.log(20.0))))) for _ in range(p["stars"])]
    for y, x, f in positions:
        star = np.zeros((n, n), np.float32)
        iy, ix = int(round((n - 1) / 2 + y)), int(round((n - 1) / 2 + x))
        if 0 <= iy < n and 0 <= ix < n:
            star[iy, ix] = f
            star = signal.fftconvolve(star, psf_img, mode="same")
            tint = np.array([1.0, rng.uniform(0.8, 1.6), rng.uniform(0.7, 1.9)], np.float32)
            bands += tint[:, None, None] * star[None]
    # noise: sky (Gaussian) plus a Poisson-like term on the light
    sigma = p["noise"]
    bands = bands + rng.normal(0, 1, bands.shape).astype(np.float32) * np.sqrt(
        sigma ** 2 + 0.002 * np.abs(bands) * sigma)
    rgb = _stretch(bands[::-1])  # i, r, g → R, G, B
    if p["artefact"] == "line":  # a dead CCD column / row: a black line through the frame
        k = int(rng.integers(n // 6, 5 * n // 6))
        if rng.random() < 0.5:
            rgb[:, k:k + 1] = 0
        else:
            rgb[k:k + 1, :] = 0
    elif p["artefact"] == "trail":
        yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2.0
        ang, d0 = rng.uniform(0, math.pi), rng.uniform(-0.3, 0.3) * n
        dist = np.abs(xx * math.sin(ang) - yy * math.cos(ang) - d0)
        rgb = np.clip(rgb + np.exp(-dist ** 2 / 2.0)[..., None] * np.array([0.5, 0.9, 0.4]), 0, 1)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR))


def _stretch(bands: np.ndarray, q: float = 8.0, stretch: float = 0.6) -> np.ndarray:
    """Lupton-style asinh colour stretch of (3, n, n) band images → (n, n, 3) in [0, 1] (colour kept)."""
    total = np.maximum(bands.mean(0), 1e-6)
    f = np.arcsinh(q * total / stretch) / q
    rgb = np.moveaxis(bands * (f / total)[None], 0, -1)
    rgb = np.clip(rgb, 0, None)
    peak = np.maximum(rgb.max(-1, keepdims=True), 1.0)  # keep hue where a pixel saturates
    return np.clip(rgb / peak, 0, 1)


def make_example(seed: int, index: int, render_size: int = 212, jpeg_quality: int = 90) -> dict:
    """Image `index` of corpus `seed`: JPEG bytes, the 37 answers, the class and the parameters' summary."""
    p = sample_params(seed, index)
    image = render(p, render_size)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=jpeg_quality)
    rng = np.random.default_rng([seed, index, 1])
    answers = volunteer_answers(answer_distributions(p), rng, int(rng.integers(40, 51)))
    return {"jpeg": buf.getvalue(), "answers": answers, "class": p["class"]}
