#!/usr/bin/env python3
"""Checks the ONNX models chainrule exports with the onnx package's checker
and ONNX Runtime.

Usage: check_onnx.py DIR
DIR holds what `cargo run --example interop_onnx -- DIR` writes: for each case
NAME, `NAME.onnx` and `NAME.io.safetensors` (the inputs under the graph's input
names; metadata `kind`). For `kind: network` (a network declared with
`network!`) the io file also holds chainrule's outputs under the output's name.
For `kind: spec` (a hand-written chainrule::graph::GraphSpec) the script
computes the reference outputs itself, in numpy (float64), from
`NAME.spec.json` and `NAME.params.safetensors`, following the conventions of
chainrule::graph (per-sample shapes, NCHW images, weights [out, in] and
[out_ch, in_ch, k, k], cross-correlation, floor output sizes, biased variance).

For every model it checks:
- `onnx.checker.check_model(full_check=True)` (also runs shape inference
  against the shapes the exporter declares), opset 17, the first dimension of
  every input and output symbolic;
- the initializers are the parameters under their weight-file names, with
  the same shapes and values;
- ONNX Runtime's outputs match the reference (chainrule's or numpy's): to
  1e-5 for f32, 1e-9 for f64;
- the batch is symbolic: ONNX Runtime on the first row alone gives that row's
  outputs;
- the comparison can fail: with one initializer entry moved by 0.05, some
  output moves by more than the tolerance.

Fails (exit 1) when any check fails, when a case kind is missing, or when
the models do not use every operation the exporter has (so that no operation
goes untested).
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.checker
import onnxruntime as ort
from onnx import numpy_helper
from safetensors import safe_open
from safetensors.numpy import load_file

TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}
LEAKY_RELU_SLOPE = 0.01
OPSET = 17

# One ONNX operator at least per chainrule::graph::OpSpec variant and
# activation; the models must use all of them.
EXPECTED_OPS = {
    "Gemm", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Add", "Mul",
    "Concat", "LayerNormalization", "Conv", "MaxPool", "AveragePool",
    "GlobalAveragePool", "Flatten",
}


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------- reference


def flat(a):
    return a.reshape(a.shape[0], -1)


def softmax(a):
    z = flat(a)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(a.shape)


def conv2d(x, w, b, stride, padding):
    """Cross-correlation, NCHW, w [out, in, k, k], zero padding."""
    n, c, h, wd = x.shape
    out_c, in_c, k, k2 = w.shape
    assert in_c == c and k == k2
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    oh = (h + 2 * padding - k) // stride + 1
    ow = (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, out_c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            # y[n, o] = Σ_c,u,v window[n, c, u, v] · w[o, c, u, v]
            y[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool(x, kernel, stride, reduce):
    n, c, h, w = x.shape
    oh = (h - kernel) // stride + 1
    ow = (w - kernel) // stride + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
            y[:, :, i, j] = reduce(window.reshape(n, c, -1), axis=2)
    return y


def layer_norm(x, gamma, beta, epsilon):
    z = flat(x)
    mean = z.mean(axis=1, keepdims=True)
    var = ((z - mean) ** 2).mean(axis=1, keepdims=True)  # biased
    y = (z - mean) / np.sqrt(var + epsilon) * gamma.reshape(1, -1) + beta.reshape(1, -1)
    return y.reshape(x.shape)


def reference(spec, params, feeds):
    """The forward pass of a GraphSpec in float64."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    values = {}
    for index in spec["inputs"]:
        values[index] = feeds[spec["values"][index]["name"]].astype(np.float64)
    for op in spec["ops"]:
        kind = op["op"]
        if kind == "dense":
            x = values[op["input"]]
            y = x @ p[op["layer"] + ".weight"].T
            if op["bias"]:
                y = y + p[op["layer"] + ".bias"]
        elif kind in ("relu", "leaky_relu", "sigmoid", "tanh", "softmax"):
            x = values[op["input"]]
            y = {
                "relu": lambda a: np.maximum(a, 0.0),
                "leaky_relu": lambda a: np.where(a > 0.0, a, LEAKY_RELU_SLOPE * a),
                "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
                "tanh": np.tanh,
                "softmax": softmax,
            }[kind](x)
        elif kind == "add":
            a, b = (values[i] for i in op["inputs"])
            y = a + b
        elif kind == "mul":
            a, b = (values[i] for i in op["inputs"])
            y = a * b
        elif kind == "concat":
            y = np.concatenate([values[i] for i in op["inputs"]], axis=1)
        elif kind == "layer_norm":
            x = values[op["input"]]
            y = layer_norm(x, p[op["layer"] + ".weight"], p[op["layer"] + ".bias"], op["epsilon"])
        elif kind == "conv2d":
            x = values[op["input"]]
            bias = p[op["layer"] + ".bias"] if op["bias"] else None
            y = conv2d(x, p[op["layer"] + ".weight"], bias, op["stride"], op["padding"])
        elif kind == "max_pool":
            y = pool(values[op["input"]], op["kernel"], op["stride"], np.max)
        elif kind == "avg_pool":
            y = pool(values[op["input"]], op["kernel"], op["stride"], np.mean)
        elif kind == "global_avg_pool":
            y = values[op["input"]].mean(axis=(2, 3))
        elif kind == "flatten":
            y = flat(values[op["input"]])
        else:
            raise CheckFailed(f"{spec['name']}: unknown operation {kind!r} in the spec")
        shape = tuple(spec["values"][op["output"]]["shape"])
        if y.shape[1:] != shape:
            raise CheckFailed(
                f"{spec['name']}: the reference gives {y.shape[1:]} for "
                f"{spec['values'][op['output']]['name']}, the spec says {shape}"
            )
        values[op["output"]] = y
    return {spec["values"][i]["name"]: values[i] for i in spec["outputs"]}


# ---------------------------------------------------------------- checks


def max_difference(a, b):
    if a.shape != b.shape:
        raise CheckFailed(f"shapes differ: {a.shape} vs {b.shape}")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(np.nanmax(d)) if not np.isnan(d).any() else float("inf")


def run(model_bytes, feeds):
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def check_case(onnx_path):
    name = onnx_path.name[: -len(".onnx")]
    directory = onnx_path.parent
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", None) != OPSET:
        raise CheckFailed(f"{name}: opset {opsets}, expected {OPSET}")
    for info in list(model.graph.input) + list(model.graph.output):
        first = info.type.tensor_type.shape.dim[0]
        if first.WhichOneof("value") != "dim_param":
            raise CheckFailed(f"{name}: the first dimension of {info.name} is not symbolic")

    io_path = directory / f"{name}.io.safetensors"
    with safe_open(str(io_path), framework="np") as f:
        kind = (f.metadata() or {}).get("kind")
    io = load_file(str(io_path))
    input_names = [i.name for i in model.graph.input]
    output_names = [o.name for o in model.graph.output]
    feeds = {n: io[n] for n in input_names}
    dtype = next(iter(feeds.values())).dtype

    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if kind == "network":
        expected = {n: io[n] for n in output_names}
        source = "chainrule"
    elif kind == "spec":
        spec = json.loads((directory / f"{name}.spec.json").read_text())
        params = load_file(str(directory / f"{name}.params.safetensors"))
        # The initializers are the parameters, by their weight-file names.
        for key, value in params.items():
            if key not in initializers:
                raise CheckFailed(f"{name}: parameter {key} is not an initializer")
            got = initializers[key]
            if got.size != value.size or not np.array_equal(got.reshape(-1), value.reshape(-1)):
                raise CheckFailed(f"{name}: initializer {key} differs from the parameter")
        expected = reference(spec, params, feeds)
        source = "numpy"
    else:
        raise CheckFailed(f"{name}: unknown kind {kind!r}")

    tolerance = TOLERANCE[np.dtype(dtype)]
    outputs = run(model.SerializeToString(), feeds)
    worst = 0.0
    for n in output_names:
        if outputs[n].dtype != dtype:
            raise CheckFailed(f"{name}: output {n} is {outputs[n].dtype}, inputs are {dtype}")
        d = max_difference(outputs[n], expected[n])
        if not d <= tolerance:
            raise CheckFailed(
                f"{name}: ONNX Runtime's {n} differs from {source}'s by {d:.3e} > {tolerance:g}"
            )
        worst = max(worst, d)

    # The batch is symbolic: one row alone.
    one = run(model.SerializeToString(), {k: v[:1] for k, v in feeds.items()})
    for n in output_names:
        d = max_difference(one[n], expected[n][:1])
        if not d <= tolerance:
            raise CheckFailed(f"{name}: with a batch of 1, {n} differs by {d:.3e}")

    # The comparison can fail: move one entry of the last parameter.
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)
    target = [t for t in changed.graph.initializer if t.data_type in floats][-1]
    array = numpy_helper.to_array(target).copy()
    array.reshape(-1)[0] += 0.05
    target.CopyFrom(numpy_helper.from_array(array, target.name))
    moved = run(changed.SerializeToString(), feeds)
    if all(max_difference(moved[n], expected[n]) <= tolerance for n in output_names):
        raise CheckFailed(f"{name}: a changed initializer went unnoticed")

    ops = {node.op_type for node in model.graph.node}
    print(
        f"onnx interop: {name}: checker ok; ONNX Runtime matches {source} on {len(next(iter(feeds.values())))} rows, "
        f"max difference {worst:.2e} (tolerance {tolerance:g}); batch 1 ok; a changed weight is caught",
        flush=True,
    )
    return kind, ops


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(sys.argv[1])
    models = sorted(directory.glob("*.onnx"))
    kinds, ops = set(), set()
    failures = 0
    for path in models:
        try:
            kind, used = check_case(path)
            kinds.add(kind)
            ops |= used
        except Exception as error:  # noqa: BLE001 (any failure is reported)
            print(f"onnx interop: FAILED {path.name}: {error}", file=sys.stderr, flush=True)
            failures += 1
    if {"network", "spec"} - kinds:
        print(f"onnx interop: FAILED: missing case kinds {sorted({'network', 'spec'} - kinds)}", file=sys.stderr)
        failures += 1
    if EXPECTED_OPS - ops:
        print(f"onnx interop: FAILED: no model uses {sorted(EXPECTED_OPS - ops)}", file=sys.stderr)
        failures += 1
    if failures:
        return 1
    print(
        f"onnx interop: {len(models)} models checked by onnx {onnx.__version__} and "
        f"ONNX Runtime {ort.__version__}; operators used: {', '.join(sorted(ops))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
