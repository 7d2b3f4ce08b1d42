#!/usr/bin/env python3
"""Reads weight files written by chainrule with Python's safetensors + numpy,
recomputes the forward pass in numpy and compares it with chainrule's outputs.

Usage: check_safetensors.py DIR
DIR holds what `cargo run --example interop_export -- DIR` writes: for each
case NAME, `model_NAME.safetensors` (the network, PyTorch names and layouts)
and `io_NAME.safetensors` (inputs `x` [n, in], chainrule's outputs `y`
[n, out], and in its metadata the layers in order as `name=activation,...`).

Exits 1 when a file cannot be read as expected, when there is not at least one
f32 and one f64 case, or when an output differs by more than the tolerance
(1e-5 for f32, 1e-10 for f64). It also checks that it can fail: with one
parameter of the last layer changed by 0.01 the outputs must no longer match.

Then it writes the other direction: a classifier with numpy-drawn weights
(`from_python_classifier_f32.safetensors`, written by
`safetensors.numpy.save_file` without metadata, like PyTorch) and inputs with
numpy's outputs (`from_python_io_classifier_f32.safetensors`), for
`cargo run --example interop_export -- --import DIR` to check.
"""

import re
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
LEAKY_RELU_SLOPE = 0.01


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0.0, z, LEAKY_RELU_SLOPE * z),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": softmax,
}


def forward(tensors, layers, x):
    """y = act(x·Wᵀ + b) layer after layer, in float64, W stored [out, in]."""
    a = x.astype(np.float64)
    for name, activation in layers:
        w = tensors[f"{name}.weight"].astype(np.float64)
        z = a @ w.T
        bias = tensors.get(f"{name}.bias")
        if bias is not None:
            z = z + bias.astype(np.float64)
        a = ACTIVATIONS[activation](z)
    return a


def fail(message):
    print(f"interop check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(directory, case):
    """Checks one case; returns its dtype."""
    model_path = directory / f"model_{case}.safetensors"
    io_path = directory / f"io_{case}.safetensors"
    if not model_path.is_file():
        fail(f"{model_path} is missing (run `cargo run --example interop_export -- {directory}`)")

    tensors = load_file(str(model_path))
    with safe_open(str(model_path), framework="numpy") as f:
        metadata = f.metadata() or {}
    if "architecture" not in metadata:
        fail(f"{model_path}: no 'architecture' in the metadata")
    if metadata.get("format") != "pt":
        fail(f"{model_path}: metadata format is {metadata.get('format')!r}, expected 'pt'")

    # The declaration in the metadata names the same layers, shapes and activations.
    declared = [
        (name, int(inputs), int(outputs), activation or "identity", kind == "Dense")
        for name, kind, inputs, outputs, activation in re.findall(
            r"(\w+)\s*:\s*(DenseNoBias|Dense)\s*<\s*(\d+)\s*,\s*(\d+)\s*>(?:\s*=>\s*(\w+))?",
            metadata["architecture"],
        )
    ]

    io = load_file(str(io_path))
    with safe_open(str(io_path), framework="numpy") as f:
        layers_text = (f.metadata() or {}).get("layers", "")
    layers = [tuple(item.split("=")) for item in layers_text.split(",") if item]
    if not layers:
        fail(f"{io_path}: no 'layers' in the metadata")

    # Names, layouts and dtypes as PyTorch's nn.Linear: weight [out, in], bias [out].
    expected_names = set()
    width = io["x"].shape[1]
    for name, activation in layers:
        if activation not in ACTIVATIONS:
            fail(f"unknown activation {activation!r}")
        weight = tensors.get(f"{name}.weight")
        if weight is None:
            fail(f"{model_path}: no tensor {name}.weight")
        if weight.ndim != 2 or weight.shape[1] != width:
            fail(f"{model_path}: {name}.weight has shape {weight.shape}, expected [out, {width}]")
        expected_names.add(f"{name}.weight")
        if f"{name}.bias" in tensors:
            if tensors[f"{name}.bias"].shape != (weight.shape[0],):
                fail(f"{name}.bias has shape {tensors[f'{name}.bias'].shape}, expected ({weight.shape[0]},)")
            expected_names.add(f"{name}.bias")
        width = weight.shape[0]
    from_tensors = [
        (name, tensors[f"{name}.weight"].shape[1], tensors[f"{name}.weight"].shape[0], activation,
         f"{name}.bias" in tensors)
        for name, activation in layers
    ]
    if declared != from_tensors:
        fail(f"{model_path}: architecture {metadata['architecture']!r} declares {declared}, "
             f"the tensors and layers give {from_tensors}")
    if set(tensors) != expected_names:
        fail(f"{model_path}: tensors {sorted(tensors)}, expected {sorted(expected_names)}")
    dtype = io["x"].dtype
    if dtype not in TOLERANCE:
        fail(f"{io_path}: dtype {dtype}, expected float32 or float64")
    for name, array in list(tensors.items()) + list(io.items()):
        if array.dtype != dtype:
            fail(f"{case}: {name} has dtype {array.dtype}, expected {dtype}")

    x, y = io["x"], io["y"]
    ours = forward(tensors, layers, x)
    if ours.shape != y.shape:
        fail(f"numpy output shape {ours.shape}, chainrule's {y.shape}")
    error = float(np.max(np.abs(ours - y.astype(np.float64))))
    tolerance = TOLERANCE[dtype]
    if not error <= tolerance:
        fail(f"{case}: numpy and chainrule outputs differ by {error:.3e} > {tolerance:.0e}")

    # The check must be able to fail: change one bias of the last layer.
    last = layers[-1][0]
    changed = dict(tensors)
    key = f"{last}.bias" if f"{last}.bias" in tensors else f"{last}.weight"
    changed[key] = tensors[key].copy()
    changed[key].flat[0] += 0.01
    changed_error = float(np.max(np.abs(forward(changed, layers, x) - y.astype(np.float64))))
    if not changed_error > tolerance:
        fail(f"{case}: a changed {key} still matches ({changed_error:.3e}): the check cannot fail")

    print(
        f"interop {case} ({dtype}): {len(x)} rows, layers {layers_text}: "
        f"max |numpy - chainrule| = {error:.2e} (tolerance {tolerance:.0e}); "
        f"with {key} changed by 0.01: {changed_error:.2e}"
    )
    return dtype


def write_from_python(directory):
    """A 5 → 16 → 8 → 3 classifier (relu, tanh, softmax) with numpy weights."""
    rng = np.random.default_rng(2024)
    layers = [("hidden", "relu"), ("middle", "tanh"), ("output", "softmax")]
    widths = [5, 16, 8, 3]
    tensors = {}
    for (name, _), inputs, outputs in zip(layers, widths, widths[1:]):
        bound = np.sqrt(6.0 / inputs)
        tensors[f"{name}.weight"] = rng.uniform(-bound, bound, (outputs, inputs)).astype(np.float32)
        tensors[f"{name}.bias"] = rng.uniform(-0.5, 0.5, outputs).astype(np.float32)
    x = rng.uniform(-2.0, 2.0, (23, 5)).astype(np.float32)
    y = forward(tensors, layers, x).astype(np.float32)
    save_file(tensors, str(directory / "from_python_classifier_f32.safetensors"))
    save_file({"x": x, "y": y}, str(directory / "from_python_io_classifier_f32.safetensors"))
    print(f"wrote from_python_classifier_f32.safetensors and its inputs and outputs for --import")


def main():
    if len(sys.argv) != 2:
        fail("usage: check_safetensors.py DIR")
    directory = Path(sys.argv[1])
    cases = sorted(p.name[len("io_"):-len(".safetensors")] for p in directory.glob("io_*.safetensors"))
    if not cases:
        fail(f"no io_*.safetensors in {directory} (run `cargo run --example interop_export -- {directory}`)")
    dtypes = {check(directory, case) for case in cases}
    if dtypes != set(TOLERANCE):
        fail(f"expected f32 and f64 cases, found {sorted(map(str, dtypes))}")
    print(f"interop check passed ({len(cases)} cases)")
    write_from_python(directory)


if __name__ == "__main__":
    main()
