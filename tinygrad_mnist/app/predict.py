"""Predict digits: `python -m tinygrad_mnist.predict --load-model-path M [--index N ...] [IMAGE ...]`.

For each test image asked for by index, and each image file, prints the predicted
digit, the ten probabilities and the image as the model sees it, in ASCII art. A
file of your own is turned into what MNIST's digits are: grey, a light digit on a
dark background (a dark-on-light image is inverted), its ink cropped and scaled to
fit 20×20 pixels, centred by its centre of mass in 28×28. PGM is read here;
PNG and JPEG need Pillow (`pip install 'tinygrad_mnist[images]'`).
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional, TextIO

import numpy as np

from . import cli, device, inference
from ..datasets import mnist
from ..datasets.mnist import IMAGE_SIDE
from .runner import exit_now, printer, run_command, set_threads
from ..tensor import Tensor


DIGIT_BOX = 20.0  # MNIST scaled each digit to fit 20×20 pixels, then centred it in 28×28


class ImageError(mnist.DatasetError):
    """An image file cannot be read or holds no digit."""


def read_pgm(path: str) -> np.ndarray:
    """A PGM image (P2 text or P5 binary, 8 or 16 bits) as a 2-D uint8 array."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # far more than any image of a digit
    tokens, pos = [], 0
    while len(tokens) < 4:  # magic, width, height, maxval; '#' starts a comment
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.find(b"\n", pos) + 1 or len(data)
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        if end == pos:
            raise ImageError(f"{path}: truncated PGM header")
        tokens.append(data[pos:end])
        pos = end
    magic, (width, height, maxval) = tokens[0], (_int(path, t) for t in tokens[1:])
    if magic not in (b"P2", b"P5") or not (0 < width <= 8192 and 0 < height <= 8192 and 0 < maxval < 65536):
        raise ImageError(f"{path}: not a greyscale PGM image (P2 or P5) of a sensible size")
    count = width * height
    if magic == b"P5":
        body = data[pos + 1:]
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        if len(body) < count * dtype.itemsize:
            raise ImageError(f"{path}: truncated PGM data")
        values = np.frombuffer(body, dtype, count).astype(np.float64)
    else:
        words = data[pos:].split()
        if len(words) < count:
            raise ImageError(f"{path}: truncated PGM data")
        values = np.array([_int(path, w) for w in words[:count]], np.float64)
    return np.clip(values * (255.0 / maxval), 0, 255).astype(np.uint8).reshape(height, width)


def _int(path: str, token: bytes) -> int:
    try:
        return int(token)
    except ValueError:
        raise ImageError(f"{path}: not a PGM number: {token[:20]!r}") from None


def read_image(path: str) -> np.ndarray:
    """Any supported image file as a 2-D uint8 grey array."""
    if not os.path.isfile(path):
        raise ImageError(f"{path}: no such image file")
    if path.lower().endswith((".pgm", ".pnm")):
        return read_pgm(path)
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(f"{path}: reading PNG or JPEG needs Pillow (pip install 'tinygrad_mnist[images]'); "
                         "PGM needs nothing") from None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), np.uint8)
    except (OSError, ValueError) as err:
        raise ImageError(f"{path}: cannot read the image ({err})") from None


def to_mnist(grey: np.ndarray) -> np.ndarray:
    """A grey image as MNIST's 28×28 uint8: light ink on black, fit to 20×20, centred by mass."""
    img = grey.astype(np.float64)
    if np.median(img) > 127:  # dark ink on a light page: MNIST's digits are light on dark
        img = 255 - img
    img = np.clip(img - np.median(img), 0, None)  # the background becomes 0
    ink = np.argwhere(img > 0.2 * img.max()) if img.max() > 0 else np.empty((0, 2))
    if len(ink) == 0:
        raise ImageError("the image holds no digit (it is all one shade)")
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    img = img[top:bottom, left:right]
    scale = DIGIT_BOX / max(img.shape)
    h, w = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
    rows = (np.arange(h) + 0.5) / scale - 0.5  # sample the crop at each small pixel's centre
    cols = (np.arange(w) + 0.5) / scale - 0.5
    small = _bilinear(img, rows, cols)
    out = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    cy, cx = np.array(np.nonzero(small)).mean(axis=1) if small.any() else (h / 2, w / 2)
    y0 = int(np.clip(round(IMAGE_SIDE / 2 - cy), 0, IMAGE_SIDE - h))
    x0 = int(np.clip(round(IMAGE_SIDE / 2 - cx), 0, IMAGE_SIDE - w))
    out[y0:y0 + h, x0:x0 + w] = small
    return np.clip(out * (255.0 / max(out.max(), 1e-9)), 0, 255).astype(np.uint8)


def _bilinear(img: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    r = np.clip(rows, 0, img.shape[0] - 1)
    c = np.clip(cols, 0, img.shape[1] - 1)
    r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
    r1, c1 = np.minimum(r0 + 1, img.shape[0] - 1), np.minimum(c0 + 1, img.shape[1] - 1)
    fr, fc = (r - r0)[:, None], (c - c0)[None, :]
    top = img[r0][:, c0] * (1 - fc) + img[r0][:, c1] * fc
    bottom = img[r1][:, c0] * (1 - fc) + img[r1][:, c1] * fc
    return top * (1 - fr) + bottom * fr


def report(name: str, pixels: np.ndarray, probs: np.ndarray, say, label: Optional[int] = None) -> None:
    digit = int(np.argmax(probs))
    truth = "" if label is None else f" (true: {label})"
    say(f"{name}: {digit} with probability {probs[digit]:.2f}{truth}")
    say("  " + "  ".join(f"{d}: {p:.2f}" for d, p in enumerate(probs)))
    say(inference.ascii_digit(pixels))


def run(args, out: Optional[TextIO] = None) -> int:
    if not args.index and not args.images:
        raise ImageError("nothing to predict: give --index N or image files")
    set_threads(args.threads)
    where = device.resolve(args.device)  # no GPU: one line, before anything loads
    kind = inference.model_kind(args.load_model_path, args.model)
    model = device.place(inference.load(args.load_model_path, kind), where)
    names: List[str] = []
    pixels: List[np.ndarray] = []
    labels: List[Optional[int]] = []
    if args.index:
        data = mnist.load(args.local_mnist)
        for i in args.index:
            if i >= len(data.test_images):
                raise ImageError(f"--index {i}: the test set has {len(data.test_images)} images")
            names.append(f"test image {i}")
            pixels.append(data.test_images.numpy()[i])
            labels.append(int(data.test_labels.numpy()[i]))
    for path in args.images:
        try:
            pixels.append(to_mnist(read_image(path)).reshape(-1))
        except ImageError as err:
            raise ImageError(str(err) if str(err).startswith(path) else f"{path}: {err}") from None
        names.append(path)
        labels.append(None)
    probs = inference.probabilities(model, Tensor(np.stack(pixels)), inference.EVAL_BATCH.get(kind))
    say = printer(out or sys.stdout)
    for n, (name, p, label) in enumerate(zip(names, probs, labels)):
        if n:
            say("")
        report(name, pixels[n], p, say, label)
    return 0


def main(argv=None) -> int:
    return run_command(cli.predict_parser(), run, argv)


def entry() -> None:
    """The `tinygrad-mnist-predict` command and `python -m tinygrad_mnist.predict`."""
    exit_now(main())

