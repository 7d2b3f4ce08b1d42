#!/usr/bin/env python3
"""Recomputes chainrule's forward passes, losses and gradients with JAX's
automatic differentiation, in float64, and fails unless they match.

Usage: check_gradients.py DIR
DIR holds what `cargo run --example interop_gradients -- DIR` writes: for
each case NAME listed in `cases.txt`,
- `NAME.weights.safetensors`: the parameters (PyTorch names and layouts);
- `NAME.grads.safetensors`: chainrule's ∂loss/∂parameter, same names;
- `NAME.data.safetensors`: `input.X`, `target.Y` (values, or I64 class
  indices), chainrule's `output.Y`, `loss` and `grad_input.X` (∂loss/∂X).

Each network is written here a second time, by hand, in JAX operations with
PyTorch's conventions (NCHW, `[out, in]` dense and `[out_ch, in_ch, k, k]`
convolution weights, cross-correlation, output size ⌊(H + 2P − K)/S⌋ + 1,
flatten in C, H, W order, max pooling's gradient to the first maximum of a
window in row-major order, LayerNorm with the biased variance and ε = 1e-5)
and chainrule's loss conventions (runtime/src/losses.rs: `sse` = Σ(a − y)²,
`mse` = Σ(a − y)²/(B·N), `binary_cross_entropy` = −Σ[y ln a + (1 − y)
ln(1 − a)]/(B·N), `cross_entropy` = −Σ y ln a / B, `l2` = λ·Σw²). The
gradients are JAX's (`jax.value_and_grad` with respect to the parameters and
the inputs): nothing of chainrule's derivations is reused.

An entry a (chainrule) matches b (JAX) when |a − b| ≤ 1e-9·max(|a|, |b|) +
1e-13 (relative, with an absolute floor for entries that cancel to about
zero). Every parameter gradient, input gradient, output and the loss is
compared, and the names and shapes of the files must be exactly those of the
network written here.

Before trusting a pass, it proves it can fail:
- the comparison rejects each case's files with one gradient entry changed
  by 1e-8 relative (ten times the tolerance), and with the loss so changed;
- the reference itself, with one convention changed (unbiased variance in
  LayerNorm, a flipped convolution kernel, flatten in H, W, C order, max
  pooling's gradient to the last maximum of a window, a tied layer whose
  second use is left out of the gradient, mse without the mean over the
  batch), disagrees with chainrule on the case that uses it;
- the convolution used here agrees with the definition written as loops.

Exits 1 on any failure, naming the case, tensor, entry and both values.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
# XLA's optimisation passes cost more than running these small programs:
# without them the check takes about half the CPU time (the arithmetic is
# the same, float64 without fast-math either way).
jax.config.update("jax_disable_most_optimizations", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402
from safetensors import safe_open  # noqa: E402

RTOL = 1e-9
ATOL = 1e-13
LEAKY_RELU_SLOPE = 0.01
LAYER_NORM_EPS = 1e-5

# A convention of the reference deliberately changed, for the self-test
# (None in the real check).
MUTATION = None

# ------------------------------------------------------------ the operations


def relu(z):
    return jnp.where(z > 0, z, 0.0)


def leaky_relu(z):
    return jnp.where(z > 0, z, LEAKY_RELU_SLOPE * z)


sigmoid = jax.nn.sigmoid
tanh = jnp.tanh


def dense(p, name, x):
    """x·Wᵀ + b, W stored [out, in] as nn.Linear; no bias if none saved."""
    z = x @ p[f"{name}.weight"].T
    if f"{name}.bias" in p:
        z = z + p[f"{name}.bias"]
    return z


def layer_norm(p, name, x):
    """nn.LayerNorm over the last axis: biased variance, ε = 1e-5."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    n = x.shape[-1]
    ddof = 1 if MUTATION == "unbiased-variance" else 0
    var = jnp.sum((x - mean) ** 2, axis=-1, keepdims=True) / (n - ddof)
    return (x - mean) / jnp.sqrt(var + LAYER_NORM_EPS) * p[f"{name}.weight"] + p[f"{name}.bias"]


def conv2d(p, name, x, stride=1, padding=0):
    """nn.Conv2d: NCHW input, OIHW weight, cross-correlation (no flip)."""
    w = p[f"{name}.weight"]
    if MUTATION == "flipped-kernel":
        w = w[:, :, ::-1, ::-1]
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=(stride, stride),
        padding=[(padding, padding), (padding, padding)],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )
    if f"{name}.bias" in p:
        y = y + p[f"{name}.bias"][None, :, None, None]
    return y


def windows(x, k, stride):
    """The k×k windows of an NCHW image with this stride, no padding:
    [N, C, OH, OW, k·k], the window's entries in row-major order."""
    _, _, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    parts = [
        x[:, :, u : u + stride * (oh - 1) + 1 : stride, v : v + stride * (ow - 1) + 1 : stride]
        for u in range(k)
        for v in range(k)
    ]
    return jnp.stack(parts, axis=-1)


def max_pool(x, k, stride=None):
    """nn.MaxPool2d; the gradient goes to the first maximum of each window in
    row-major order (argmax returns the first), by construction."""
    win = windows(x, k, stride or k)
    if MUTATION == "last-maximum":
        last = win.shape[-1] - 1 - jnp.argmax(win[..., ::-1], axis=-1)
        choice = lax.stop_gradient(last)
    else:
        choice = lax.stop_gradient(jnp.argmax(win, axis=-1))
    return jnp.take_along_axis(win, choice[..., None], axis=-1)[..., 0]


def avg_pool(x, k, stride=None):
    """nn.AvgPool2d (no padding)."""
    return jnp.mean(windows(x, k, stride or k), axis=-1)


def global_avg_pool(x):
    """nn.AdaptiveAvgPool2d(1) then flatten: [N, C]."""
    return jnp.mean(x, axis=(2, 3))


def flatten(x):
    """nn.Flatten: [N, C·H·W] in C, H, W order."""
    if MUTATION == "flatten-hwc":
        x = jnp.transpose(x, (0, 2, 3, 1))
    return x.reshape(x.shape[0], -1)


def concat(*xs):
    """Along features, or along channels for images (axis 1 in both)."""
    return jnp.concatenate(xs, axis=1)


def tied(p):
    """The parameters for a second use of a tied layer (the self-test's
    mutation leaves that use out of the gradient)."""
    if MUTATION == "untied-gradient":
        return jax.tree_util.tree_map(lax.stop_gradient, p)
    return p


# ------------------------------------------------------------------ losses
# Each loss takes a head (the output's pre-activation `z` and its activation)
# and the targets as a [B, N] array (class indices are made one-hot).


class Head:
    def __init__(self, z, activation):
        self.z = z
        self.activation = activation

    def output(self):
        return {
            "softmax": lambda z: jax.nn.softmax(z, axis=1),
            "sigmoid": sigmoid,
            "identity": lambda z: z,
        }[self.activation](self.z)


def cross_entropy(head, y):
    """−Σ y ln softmax(z) / B."""
    assert head.activation == "softmax"
    return -jnp.sum(y * jax.nn.log_softmax(head.z, axis=1)) / head.z.shape[0]


def binary_cross_entropy(head, y):
    """−Σ [y ln σ(z) + (1 − y) ln(1 − σ(z))] / (B·N)."""
    assert head.activation == "sigmoid"
    terms = y * jax.nn.log_sigmoid(head.z) + (1 - y) * jax.nn.log_sigmoid(-head.z)
    return -jnp.sum(terms) / head.z.size


def mse(head, y):
    """Σ (a − y)² / (B·N)."""
    squares = jnp.sum((head.output() - y) ** 2)
    return squares if MUTATION == "mse-as-sum" else squares / y.size


def sse(head, y):
    """Σ (a − y)²."""
    return jnp.sum((head.output() - y) ** 2)


# --------------------------------------------------------------- the networks
# Each case: the layers with their shapes (which fix the expected weight-file
# names and PyTorch shapes), the inputs' per-sample shapes, the forward pass
# returning a Head per output, the loss terms (weight, loss, output) and the
# L2 penalties (λ, tensors). These mirror examples/interop_gradients.rs.


def dense_layer(n_in, n_out, bias=True):
    shapes = {"weight": (n_out, n_in)}
    if bias:
        shapes["bias"] = (n_out,)
    return shapes


def conv_layer(c_in, c_out, k, bias=True):
    shapes = {"weight": (c_out, c_in, k, k)}
    if bias:
        shapes["bias"] = (c_out,)
    return shapes


def norm_layer(n):
    return {"weight": (n,), "bias": (n,)}


def residual(p, x):
    h = tanh(dense(p, "inp", x["x"]))
    r = relu(dense(p, "block1", h))
    h2 = h + dense(p, "block2", r)
    return {"output": Head(dense(p, "out", h2), "softmax")}


def branches(p, x):
    a = tanh(dense(p, "left", x["x"]))
    b = sigmoid(dense(p, "right", x["x"]))
    return {"output": Head(dense(p, "head", concat(a, b)), "softmax")}


def tied_layer(p, x):
    h = leaky_relu(dense(p, "shared", x["x"]))
    h2 = tanh(dense(tied(p), "shared", h))
    return {"output": Head(dense(p, "out", h2), "identity")}


def two_inputs(p, x):
    h = tanh(dense(p, "a", x["x1"]) + dense(p, "b", x["x2"]))
    return {"output": Head(dense(p, "out", concat(h, x["x1"], x["x2"])), "sigmoid")}


def two_heads(p, x):
    h = tanh(dense(p, "trunk", x["x"]))
    return {"class": Head(dense(p, "cls", h), "softmax"), "size": Head(dense(p, "reg", h), "identity")}


def penalty(p, x):
    return {"output": Head(dense(p, "b", tanh(dense(p, "a", x["x"]))), "identity")}


def gated(p, x):
    g = sigmoid(dense(p, "gate", x["x"]))
    v = tanh(dense(p, "value", x["x"]))
    gv = g * v
    return {"output": Head(dense(p, "out", gv * gv + v), "identity")}


def normed(p, x):
    h = layer_norm(p, "ln", dense(p, "a", x["x"]))
    return {"output": Head(dense(p, "b", tanh(h)), "softmax")}


def everything(p, x):
    h = tanh(dense(p, "embed", x["x"])) + dense(p, "side", x["extra"])
    r = h + relu(dense(p, "block", layer_norm(p, "ln", h)))
    r2 = r + tanh(dense(tied(p), "block", r))
    g = sigmoid(dense(p, "gate", x["extra"])) * r2
    return {
        "class": Head(dense(p, "cls", concat(g, h)), "softmax"),
        "flags": Head(dense(p, "reg", g), "sigmoid"),
    }


def conv_strided(p, x):
    a1 = tanh(conv2d(p, "conv1", x["x"], stride=2, padding=1))
    a2 = tanh(conv2d(p, "conv2", a1))
    return {"output": Head(dense(p, "out", flatten(a2)), "softmax")}


def conv_pools(p, x):
    a1 = relu(conv2d(p, "conv1", x["x"], padding=1))
    a2 = max_pool(a1, 2)
    a3 = sigmoid(conv2d(p, "conv2", a2))
    a4 = avg_pool(a3, 2, stride=1)
    return {"output": Head(dense(p, "out", flatten(a4)), "softmax")}


def pool_ties(p, x):
    image = x["image"]
    features = concat(flatten(max_pool(image, 3, stride=2)), flatten(avg_pool(image, 2)))
    return {"output": Head(dense(p, "head", features), "softmax")}


def conv_inception(p, x):
    image = x["image"]
    both = concat(tanh(conv2d(p, "a", image, padding=1)), tanh(conv2d(p, "b", image)))
    features = global_avg_pool(tanh(conv2d(p, "c", both)))
    return {"output": Head(dense(p, "head", features), "sigmoid")}


def conv_graph(p, x):
    h = tanh(conv2d(p, "stem", x["image"], padding=1))
    r = h + tanh(conv2d(p, "mix", h, padding=1))
    g = sigmoid(conv2d(tied(p), "mix", r, padding=1)) * r
    d = relu(conv2d(p, "down", g, stride=2, padding=1))
    return {"output": Head(dense(p, "head", global_avg_pool(d)), "softmax")}


CASES = {
    "residual": dict(
        forward=residual,
        layers={"inp": dense_layer(4, 6), "block1": dense_layer(6, 6), "block2": dense_layer(6, 6), "out": dense_layer(6, 3)},
        inputs={"x": (4,)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "branches": dict(
        forward=branches,
        layers={"left": dense_layer(3, 4), "right": dense_layer(3, 2), "head": dense_layer(6, 3)},
        inputs={"x": (3,)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "tied": dict(
        forward=tied_layer,
        layers={"shared": dense_layer(5, 5), "out": dense_layer(5, 2)},
        inputs={"x": (5,)},
        loss=[(1.0, mse, "output")],
    ),
    "two_inputs": dict(
        forward=two_inputs,
        layers={"a": dense_layer(3, 4), "b": dense_layer(2, 4), "out": dense_layer(9, 2)},
        inputs={"x1": (3,), "x2": (2,)},
        loss=[(1.0, binary_cross_entropy, "output")],
    ),
    "two_heads": dict(
        forward=two_heads,
        layers={"trunk": dense_layer(4, 5), "cls": dense_layer(5, 3), "reg": dense_layer(5, 2)},
        inputs={"x": (4,)},
        loss=[(1.0, cross_entropy, "class"), (0.5, mse, "size")],
    ),
    "penalty": dict(
        forward=penalty,
        layers={"a": dense_layer(3, 4), "b": dense_layer(4, 2)},
        inputs={"x": (3,)},
        loss=[(1.0, sse, "output")],
        l2=[(0.01, ["a.weight", "b.weight"]), (0.5, ["b.bias"])],
    ),
    "gated": dict(
        forward=gated,
        layers={"gate": dense_layer(4, 3), "value": dense_layer(4, 3), "out": dense_layer(3, 2)},
        inputs={"x": (4,)},
        loss=[(1.0, mse, "output")],
    ),
    "layer_norm": dict(
        forward=normed,
        layers={"a": dense_layer(4, 6), "ln": norm_layer(6), "b": dense_layer(6, 3)},
        inputs={"x": (4,)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "everything": dict(
        forward=everything,
        layers={
            "embed": dense_layer(4, 6),
            "side": dense_layer(3, 6),
            "block": dense_layer(6, 6),
            "ln": norm_layer(6),
            "gate": dense_layer(3, 6, bias=False),
            "cls": dense_layer(12, 3),
            "reg": dense_layer(6, 2),
        },
        inputs={"x": (4,), "extra": (3,)},
        loss=[(2.0, cross_entropy, "class"), (0.5, binary_cross_entropy, "flags")],
        l2=[(0.001, ["embed.weight", "block.weight", "ln.weight"])],
    ),
    "conv_strided": dict(
        forward=conv_strided,
        layers={"conv1": conv_layer(2, 3, 3), "conv2": conv_layer(3, 2, 2), "out": dense_layer(12, 3)},
        inputs={"x": (2, 7, 6)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "conv_pools": dict(
        forward=conv_pools,
        layers={"conv1": conv_layer(1, 2, 3), "conv2": conv_layer(2, 3, 3, bias=False), "out": dense_layer(3, 2)},
        inputs={"x": (1, 8, 8)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "pool_ties": dict(
        forward=pool_ties,
        layers={"head": dense_layer(26, 3)},
        inputs={"image": (2, 6, 6)},
        loss=[(1.0, cross_entropy, "output")],
    ),
    "conv_inception": dict(
        forward=conv_inception,
        layers={"a": conv_layer(1, 2, 3), "b": conv_layer(1, 2, 1), "c": conv_layer(4, 3, 3), "head": dense_layer(3, 2)},
        inputs={"image": (1, 6, 6)},
        loss=[(1.0, binary_cross_entropy, "output")],
    ),
    "conv_graph": dict(
        forward=conv_graph,
        layers={
            "stem": conv_layer(1, 2, 3),
            "mix": conv_layer(2, 2, 3),
            "down": conv_layer(2, 3, 3),
            "head": dense_layer(3, 2),
        },
        inputs={"image": (1, 5, 5)},
        loss=[(1.0, cross_entropy, "output")],
        l2=[(0.01, ["mix.weight", "stem.weight"])],
    ),
}

# What the issues ask the check to cover, and the case that covers each.
COVERAGE = {
    "residual MLP": "residual",
    "two concatenated branches": "branches",
    "tied layer": "tied",
    "two inputs": "two_inputs",
    "two heads with weighted losses": "two_heads",
    "L2 penalty": "penalty",
    "gating": "gated",
    "LayerNorm": "layer_norm",
    "stride 2, padding 1, two stacked convolutions": "conv_strided",
    "max and average pooling after convolutions": "conv_pools",
    "max-pool ties (first maximum), overlapping windows": "pool_ties",
    "global average pooling, channel concat": "conv_inception",
    "tied convolution, residual and gate on images": "conv_graph",
}

# The self-test's mutations of the reference, each with the case it must
# break.
MUTATIONS = {
    "unbiased-variance": "layer_norm",
    "flipped-kernel": "conv_strided",
    "flatten-hwc": "conv_strided",
    "last-maximum": "pool_ties",
    "untied-gradient": "tied",
    "mse-as-sum": "gated",
}

# ------------------------------------------------------------------ reading


def read(path):
    with safe_open(path, framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def load_case(directory, name):
    weights, _ = read(directory / f"{name}.weights.safetensors")
    grads, _ = read(directory / f"{name}.grads.safetensors")
    data, meta = read(directory / f"{name}.data.safetensors")
    return weights, grads, data, meta


def expected_params(case):
    return {f"{layer}.{kind}": shape for layer, shapes in case["layers"].items() for kind, shape in shapes.items()}


def check_layout(name, case, weights, grads, data):
    """The files hold exactly the tensors of the network written here, with
    PyTorch's shapes, in float64."""
    problems = []
    expected = expected_params(case)
    for what, tensors in (("weights", weights), ("grads", grads)):
        if set(tensors) != set(expected):
            problems.append(
                f"{what}: tensors {sorted(tensors)} are not {sorted(expected)}"
            )
            continue
        for key, shape in expected.items():
            if tensors[key].shape != shape or tensors[key].dtype != np.float64:
                problems.append(f"{what}: {key} is {tensors[key].dtype} {tensors[key].shape}, expected float64 {shape}")
    if data.get("loss", np.zeros(1)).shape != ():
        problems.append("data: loss missing or not a scalar")
    first_input = data.get(f"input.{next(iter(case['inputs']))}")
    batch = None if first_input is None else first_input.shape[0]
    for x, shape in case["inputs"].items():
        for prefix in ("input.", "grad_input."):
            key = prefix + x
            if key not in data or data[key].shape != (batch, *shape):
                problems.append(f"data: {key} missing or not of shape {(batch, *shape)}")
    outputs = {term[2] for term in case["loss"]}
    for y in outputs:
        for key in (f"target.{y}", f"output.{y}"):
            if key not in data:
                problems.append(f"data: {key} missing")
    known = {f"{p}{x}" for x in case["inputs"] for p in ("input.", "grad_input.")}
    known |= {f"{p}{y}" for y in outputs for p in ("target.", "output.")}
    known.add("loss")
    if set(data) - known:
        problems.append(f"data: unexpected tensors {sorted(set(data) - known)}")
    if problems:
        raise AssertionError(f"{name}: " + "; ".join(problems))


# ------------------------------------------------------------------ computing


def reference(case, weights, data):
    """JAX's loss, outputs and gradients (parameters, inputs) for a case."""
    params = {k: jnp.asarray(v) for k, v in weights.items()}
    inputs = {x: jnp.asarray(data[f"input.{x}"]) for x in case["inputs"]}
    targets = {}
    for _, _, y in case["loss"]:
        t = data[f"target.{y}"]
        if t.dtype == np.int64:
            n_classes = data[f"output.{y}"].shape[1]
            t = np.eye(n_classes)[t]
        targets[y] = jnp.asarray(t)

    def total(params, inputs):
        heads = case["forward"](params, inputs)
        loss = sum(w * fn(heads[y], targets[y]) for w, fn, y in case["loss"])
        for lam, names in case.get("l2", []):
            loss = loss + lam * sum(jnp.sum(params[n] ** 2) for n in names)
        return loss, {y: h.output() for y, h in heads.items()}

    # One compiled program per case (traced afresh on each call, so that a
    # mutation of the self-test is seen), not one per operation.
    gradient = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))
    (loss, outputs), (g_params, g_inputs) = gradient(params, inputs)
    result = {"loss": np.asarray(loss)}
    result.update({f"output.{y}": np.asarray(v) for y, v in outputs.items()})
    result.update({f"grad_input.{x}": np.asarray(v) for x, v in g_inputs.items()})
    result.update({f"grad.{k}": np.asarray(v) for k, v in g_params.items()})
    return result


def chainrule_values(grads, data):
    values = {k: v for k, v in data.items() if k == "loss" or k.startswith(("output.", "grad_input."))}
    values.update({f"grad.{k}": v for k, v in grads.items()})
    return values


# ------------------------------------------------------------------ comparing


def compare(ours, theirs):
    """Per tensor: (worst relative difference, worst absolute difference,
    failing entries as (index, chainrule, jax)). Relative: |a − b| /
    max(|a|, |b|) over nonzero pairs."""
    report = {}
    for key in sorted(theirs):
        a = np.asarray(ours[key], dtype=np.float64)
        b = np.asarray(theirs[key], dtype=np.float64)
        if a.shape != b.shape:
            report[key] = (np.inf, np.inf, [("shape", a.shape, b.shape)])
            continue
        diff = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale > 0, diff / scale, 0.0)
        bad = ~(diff <= RTOL * scale + ATOL)  # NaN fails
        entries = [tuple(int(i) for i in idx) for idx in np.argwhere(bad)]
        failing = [(idx, float(a[idx]), float(b[idx])) for idx in entries]
        worst_rel = float(np.max(rel)) if rel.size else 0.0
        worst_abs = float(np.max(diff)) if diff.size else 0.0
        if np.isnan(diff).any():
            worst_rel = worst_abs = np.nan
        report[key] = (worst_rel, worst_abs, failing)
    return report


def failures(report):
    return [(key, entry) for key, (_, _, failing) in report.items() for entry in failing]


def self_test_comparison(name, ours, theirs):
    """The comparison rejects one gradient entry changed by 10× the
    tolerance, and the loss so changed."""
    grad_keys = sorted(k for k in ours if k.startswith(("grad.", "grad_input.")))
    # A different tensor per case, its largest entry.
    key = grad_keys[sum(map(ord, name)) % len(grad_keys)]
    for target in (key, "loss"):
        changed = dict(ours)
        tensor = np.array(ours[target], dtype=np.float64, copy=True)
        index = np.unravel_index(np.argmax(np.abs(tensor)), tensor.shape) if tensor.ndim else ()
        tensor[index] *= 1 + 10 * RTOL
        changed[target] = tensor
        caught = failures(compare(changed, theirs))
        if [k for k, _ in caught] != [target]:
            raise AssertionError(
                f"{name}: self-test: {target}{list(index)} changed by {10 * RTOL:g} relative, "
                f"the comparison reported {caught or 'nothing'}"
            )


def self_test_conv_definition(weights, data):
    """lax's convolution, as called here, is nn.Conv2d's cross-correlation:
    the first layer of conv_strided against loops over the definition
    y[o, i, j] = b[o] + Σ w[o, c, u, v]·x[c, i·s + u − p, j·s + v − p]."""
    x, w, b, s, pad = data["input.x"], weights["conv1.weight"], weights["conv1.bias"], 2, 1
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h + 2 * pad - k) // s + 1, (wd + 2 * pad - k) // s + 1
    y = np.zeros((n, o, oh, ow))
    for bi in range(n):
        for oc in range(o):
            for i in range(oh):
                for j in range(ow):
                    acc = b[oc]
                    for ch in range(c):
                        for u in range(k):
                            for v in range(k):
                                r, q = i * s + u - pad, j * s + v - pad
                                if 0 <= r < h and 0 <= q < wd:
                                    acc += w[oc, ch, u, v] * x[bi, ch, r, q]
                    y[bi, oc, i, j] = acc
    got = np.asarray(conv2d({k: jnp.asarray(v) for k, v in weights.items()}, "conv1", jnp.asarray(x), stride=2, padding=1))
    if got.shape != (n, 3, 4, 3) or np.max(np.abs(got - y)) > 1e-13:
        raise AssertionError(f"self-test: lax's convolution is not the definition (shape {got.shape})")


# ------------------------------------------------------------------ main


def main():
    global MUTATION
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.monotonic()
    directory = Path(sys.argv[1])
    listed = (directory / "cases.txt").read_text().split()
    failed = 0
    missing = set(CASES) - set(listed)
    if missing or set(listed) - set(CASES):
        print(
            f"gradient interop: FAILED: cases written {sorted(listed)}, cases known here {sorted(CASES)}",
            file=sys.stderr,
        )
        return 1
    loaded = {}
    for name in listed:
        case = CASES[name]
        try:
            weights, grads, data, meta = load_case(directory, name)
            check_layout(name, case, weights, grads, data)
            ours = chainrule_values(grads, data)
            theirs = reference(case, weights, data)
            if set(ours) != set(theirs):
                raise AssertionError(f"{name}: chainrule gives {sorted(ours)}, JAX {sorted(theirs)}")
            report = compare(ours, theirs)
            loaded[name] = (case, weights, data, ours)
        except Exception as error:  # noqa: BLE001 (any failure is reported)
            print(f"gradient interop: FAILED {name}: {error}", file=sys.stderr, flush=True)
            failed += 1
            continue
        bad = failures(report)
        worst_rel = max(r for r, _, _ in report.values())
        worst_abs = max(a for _, a, _ in report.values())
        worst_key = max(report, key=lambda k: report[k][0])
        entries = sum(np.size(v) for v in ours.values())
        if bad:
            failed += 1
            print(f"gradient interop: FAILED {name} ({meta.get('architecture', '?')})", file=sys.stderr)
            for key, (index, a, b) in bad[:20]:
                print(f"    {key}{list(index)}: chainrule {a!r}, JAX {b!r}, difference {a - b:.3e}", file=sys.stderr)
            if len(bad) > 20:
                print(f"    … and {len(bad) - 20} more entries", file=sys.stderr)
            continue
        try:
            self_test_comparison(name, ours, theirs)
        except AssertionError as error:
            print(f"gradient interop: FAILED {error}", file=sys.stderr)
            failed += 1
            continue
        print(
            f"gradient interop: {name}: {entries} values (loss, outputs, {len([k for k in ours if k.startswith('grad.')])} parameter "
            f"and {len([k for k in ours if k.startswith('grad_input.')])} input gradients) match JAX: "
            f"max relative difference {worst_rel:.1e} ({worst_key}), max absolute {worst_abs:.1e}",
            flush=True,
        )

    # The reference with one convention changed must disagree.
    if not failed:
        for mutation, name in MUTATIONS.items():
            case, weights, data, ours = loaded[name]
            MUTATION = mutation
            try:
                theirs = reference(case, weights, data)
            finally:
                MUTATION = None
            bad = failures(compare(ours, theirs))
            if not bad:
                print(f"gradient interop: FAILED self-test: with {mutation}, {name} still matches", file=sys.stderr)
                failed += 1
            else:
                keys = sorted({k for k, _ in bad})
                print(f"gradient interop: self-test: with {mutation}, {name} fails as it should ({len(bad)} entries in {', '.join(keys[:4])}{', …' if len(keys) > 4 else ''})")
        try:
            _, weights, data, _ = loaded["conv_strided"]
            self_test_conv_definition(weights, data)
            print("gradient interop: self-test: lax's convolution equals the loops of the definition")
        except AssertionError as error:
            print(f"gradient interop: FAILED {error}", file=sys.stderr)
            failed += 1

    if failed:
        print(f"gradient interop: {failed} failure(s)", file=sys.stderr)
        return 1
    print(
        f"gradient interop: {len(listed)} networks match JAX {jax.__version__} to {RTOL:g} relative "
        f"({', '.join(COVERAGE)}); {time.monotonic() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
