//! Straight-line forms of small operations.
//!
//! A dense layer whose literal dimensions give at most
//! [`DEFAULT_MAX_WEIGHTS`] weights is written out entry by entry: its
//! weights are loaded into locals once, then each batch row is one array
//! expression of explicit multiply-adds (forward), or the weight and bias
//! gradients are accumulated in locals over the rows and stored once
//! (backward). Elementwise activations of at most [`DEFAULT_MAX_WIDTH`]
//! columns are written out per row the same way, except `tanh` and
//! `sigmoid`: those call the runtime's slice form on the whole `B×N` matrix,
//! which is vectorized for f32 (measured on xor, 2→8→1 at B=4: 3.8 M → 10.9 M
//! samples/s in peer-bench, against per-entry calls to libm's `tanhf`). Larger operations call the
//! runtime's kernels, which are loops with constant bounds that vectorize.
//!
//! The batch size `B` is a const generic of the methods, so the loop over
//! rows stays a loop; everything inside a row is unrolled.
//!
//! The threshold is measured (see the crate README, section "Unrolling"):
//! the `network_step` bench in the root package runs the same networks with
//! unrolling on and off (`#[chainrule(unroll = 0)]` turns it off for one
//! network).

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{grad_ident, rt, value_ident, Options};
use crate::check::{Model, ValueId};
use crate::vocab::{Activation, LayerKind};

/// Dense layers with at most this many weights are unrolled by default.
pub const DEFAULT_MAX_WEIGHTS: usize = 256;

/// Elementwise activations over at most this many columns are unrolled by
/// default (when unrolling is on at all).
pub const DEFAULT_MAX_WIDTH: usize = 16;

/// The literal dimensions of a layer, if it is small enough to unroll.
fn small_layer(model: &Model, layer: usize, options: Options) -> Option<(usize, usize)> {
    let l = &model.layers[layer];
    let inputs = l.inputs.literal_value()?.ok()?;
    let outputs = l.outputs.literal_value()?.ok()?;
    (inputs * outputs <= options.unroll_max_weights).then_some((inputs, outputs))
}

/// The literal width of a value, if small enough to unroll.
fn small_width(model: &Model, value: ValueId, options: Options) -> Option<usize> {
    let width = model.values[value].width.literal_value()?.ok()?;
    (options.unroll_max_weights > 0 && width <= DEFAULT_MAX_WIDTH).then_some(width)
}

/// `[p0, p1, …]` identifiers.
fn names(prefix: &str, n: usize) -> Vec<Ident> {
    (0..n).map(|i| format_ident!("{}{}", prefix, i)).collect()
}

/// `let [w0_0, w0_1, …] = *self.layer.weight.row(0);` for every row `j`;
/// returns the statements and the identifiers `w[j][i]`.
fn load_weights(
    model: &Model,
    layer: usize,
    outputs: usize,
    inputs: usize,
) -> (TokenStream, Vec<Vec<Ident>>) {
    let field = &model.layers[layer].name;
    let mut statements = TokenStream::new();
    let mut w = Vec::new();
    for j in 0..outputs {
        let row: Vec<Ident> = (0..inputs).map(|i| format_ident!("w{}_{}", j, i)).collect();
        statements.extend(quote!(let [#(#row),*] = *self.#field.weight.row(#j);));
        w.push(row);
    }
    (statements, w)
}

/// `z = x·Wᵀ + 1·bᵀ` unrolled, or `None`.
pub(super) fn dense_forward(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let (inputs, outputs) = small_layer(model, layer, options)?;
    let l = &model.layers[layer];
    let field = &l.name;
    let (x, z) = (value_ident(model, input), value_ident(model, output));
    let (load, w) = load_weights(model, layer, outputs, inputs);
    let xs = names("x", inputs);
    let bias = l.kind == LayerKind::Dense;
    let bs = names("b", outputs);
    let load_bias = if bias {
        quote!(let [#(#bs),*] = *self.#field.bias.row(0);)
    } else {
        TokenStream::new()
    };
    let entries = (0..outputs).map(|j| {
        let products = (0..inputs).map(|i| {
            let (wji, xi) = (&w[j][i], &xs[i]);
            quote!(#wji * #xi)
        });
        if bias {
            let b = &bs[j];
            quote!(#b #(+ #products)*)
        } else {
            quote!(#(#products)+*)
        }
    });
    Some(quote! {
        {
            #load
            #load_bias
            for (x_row, z_row) in #x.rows().zip(#z.rows_mut()) {
                let [#(#xs),*] = *x_row;
                *z_row = [#(#entries),*];
            }
        }
    })
}

/// `dl_dw = dl_dzᵀ·x` and `dl_db = 1ᵀ·dl_dz` unrolled (accumulated in
/// locals over the rows, stored once), or `None`.
pub(super) fn dense_backward(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let (inputs, outputs) = small_layer(model, layer, options)?;
    let rt = rt();
    let l = &model.layers[layer];
    let (field, k) = (&l.name, l.number);
    let (x, dz) = (value_ident(model, input), grad_ident(model, output));
    let xs = names("x", inputs);
    let ds = names("d", outputs);
    let dw: Vec<Vec<Ident>> = (0..outputs)
        .map(|j| {
            (0..inputs)
                .map(|i| format_ident!("dl_dw{}_{}_{}", k, j, i))
                .collect()
        })
        .collect();
    let db: Vec<Ident> = (0..outputs)
        .map(|j| format_ident!("dl_db{}_{}", k, j))
        .collect();
    let bias = l.kind == LayerKind::Dense;
    let zero = quote!(<T as #rt::Scalar>::ZERO);
    let all_dw: Vec<&Ident> = dw.iter().flatten().collect();
    let mut accumulate = TokenStream::new();
    for j in 0..outputs {
        for i in 0..inputs {
            let (g, d, xi) = (&dw[j][i], &ds[j], &xs[i]);
            accumulate.extend(quote!(#g += #d * #xi;));
        }
        if bias {
            let (g, d) = (&db[j], &ds[j]);
            accumulate.extend(quote!(#g += #d;));
        }
    }
    let store_w = (0..outputs).map(|j| {
        let row = &dw[j];
        quote!(*grads.#field.weight.row_mut(#j) = [#(#row),*];)
    });
    let (init_b, store_b) = if bias {
        (
            quote!(#(let mut #db = #zero;)*),
            quote!(*grads.#field.bias.row_mut(0) = [#(#db),*];),
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    Some(quote! {
        {
            #(let mut #all_dw = #zero;)*
            #init_b
            for (d_row, x_row) in #dz.rows().zip(#x.rows()) {
                let [#(#ds),*] = *d_row;
                let [#(#xs),*] = *x_row;
                #accumulate
            }
            #(#store_w)*
            #store_b
        }
    })
}

/// `dl_dx = dl_dz·W` unrolled, or `None`.
pub(super) fn dense_input_grad(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let (inputs, outputs) = small_layer(model, layer, options)?;
    let (dx, dz) = (grad_ident(model, input), grad_ident(model, output));
    let (load, w) = load_weights(model, layer, outputs, inputs);
    let ds = names("d", outputs);
    let entries = (0..inputs).map(|i| {
        let terms = (0..outputs).map(|j| {
            let (d, wji) = (&ds[j], &w[j][i]);
            quote!(#d * #wji)
        });
        quote!(#(#terms)+*)
    });
    Some(quote! {
        {
            #load
            for (d_row, dx_row) in #dz.rows().zip(#dx.rows_mut()) {
                let [#(#ds),*] = *d_row;
                *dx_row = [#(#entries),*];
            }
        }
    })
}

/// `a = f(z)` unrolled per row, or `None` (softmax is never unrolled).
pub(super) fn activation_forward(
    model: &Model,
    activation: Activation,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    // tanh and sigmoid: the runtime's slice form over the whole B×N matrix
    // (vectorized for f32) beats one scalar call per entry.
    if matches!(
        activation,
        Activation::Softmax | Activation::Tanh | Activation::Sigmoid
    ) {
        return None;
    }
    let width = small_width(model, input, options)?;
    let rt = rt();
    let f = super::forward::activation_type(activation);
    let (z, a) = (value_ident(model, input), value_ident(model, output));
    let zs = names("z", width);
    Some(quote! {
        for (z_row, a_row) in #z.rows().zip(#a.rows_mut()) {
            let [#(#zs),*] = *z_row;
            *a_row = [#(<#f as #rt::Activation>::apply::<T>(#zs)),*];
        }
    })
}

/// `dl_dz = dl_da ⊗ f′(z)` unrolled per row, or `None`.
pub(super) fn activation_backward(
    model: &Model,
    activation: Activation,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    if activation == Activation::Softmax {
        return None;
    }
    let width = small_width(model, input, options)?;
    let rt = rt();
    let f = super::forward::activation_type(activation);
    let (z, a) = (value_ident(model, input), value_ident(model, output));
    let (dz, da) = (grad_ident(model, input), grad_ident(model, output));
    let (zs, as_, gs) = (names("z", width), names("a", width), names("g", width));
    Some(quote! {
        for (((g_row, z_row), a_row), dz_row) in #da.rows().zip(#z.rows()).zip(#a.rows()).zip(#dz.rows_mut()) {
            let [#(#gs),*] = *g_row;
            let [#(#zs),*] = *z_row;
            let [#(#as_),*] = *a_row;
            *dz_row = [#(#gs * <#f as #rt::Activation>::derivative::<T>(#zs, #as_)),*];
        }
    })
}
