//! Straight-line forms of small operations.
//!
//! A dense layer whose literal dimensions give at most
//! [`DEFAULT_MAX_WEIGHTS`] weights is written out with its weights in local
//! arrays, each batch row a few vector-wide operations that LLVM turns into
//! SIMD (AVX2 with `-C target-cpu=native`, SSE in a default build):
//! - forward: the weight columns `[T; OUT]` gathered once, each row `IN`
//!   multiply-adds of a column into an accumulator that starts at the bias
//!   (layers of fewer than 4 outputs: one sum of products per output); the
//!   layer's elementwise activation is written in the same loop;
//! - rule 5 and the bias: the gradients accumulated in local arrays over the
//!   rows along the longer side (weight rows or columns), stored once;
//! - rule 6: each row of `dl_dx` the weight rows scaled by the row of
//!   `dl_dz`.
//!
//! Rule 7 of an activation over at most [`DEFAULT_MAX_WIDTH`] columns is
//! written out per row; its forward pass is written with its layer, or per
//! row, except `tanh` and `sigmoid`: those call the runtime's slice form on
//! the whole `B×N` matrix, vectorized for f32 (xor, 2→8→1 at B=4: 3.8 M →
//! 10.9 M samples/s in peer-bench, against per-entry calls to libm's
//! `tanhf`). The softmax of a single row of a small width uses the scalar
//! `exp`. Larger operations call the runtime's kernels.
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
use crate::vocab::Activation;

/// Dense layers with at most this many weights are unrolled by default.
pub const DEFAULT_MAX_WEIGHTS: usize = 256;

/// Elementwise activations over at most this many columns are unrolled by
/// default (when unrolling is on at all).
pub const DEFAULT_MAX_WIDTH: usize = 16;

/// The literal dimensions of a layer, if it is small enough to unroll.
fn small_layer(model: &Model, layer: usize, options: Options) -> Option<(usize, usize)> {
    let (inputs, outputs, _) = model.layers[layer].dense()?;
    let (inputs, outputs) = (inputs.known()?, outputs.known()?);
    // Checked: the check stage rejects layers whose weight count overflows.
    let weights = inputs.checked_mul(outputs)?;
    (weights <= options.unroll_max_weights).then_some((inputs, outputs))
}

/// The literal width of a value, if small enough to unroll.
fn small_width(model: &Model, value: ValueId, options: Options) -> Option<usize> {
    let width = model.width(value).known()?;
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

/// An integer literal without suffix (`8`, for array lengths and ranges).
fn lit(n: usize) -> proc_macro2::Literal {
    proc_macro2::Literal::usize_unsuffixed(n)
}

/// `let row = ::core::hint::black_box(row);`: keeps LLVM from vectorizing
/// the loop over the batch rows (8 rows at a time, every weight broadcast
/// to its own register and spilled, the rows transposed through shuffles),
/// so that each row is vectorized along its own entries instead. Measured on
/// iris (4→16→3, B=16): the step 1.97 µs → 1.75 µs; it costs one store and
/// one load per row.
fn row_barrier(row: &str) -> TokenStream {
    let row = format_ident!("{}", row);
    quote!(let #row = ::core::hint::black_box(#row);)
}

/// Layers with at least this many outputs run their forward pass in the
/// column form (`acc += x_i · W[:, i]`, `OUTPUTS`-wide vector operations);
/// narrower ones as one dot product per output.
const COLUMN_MIN_OUTPUTS: usize = 4;

/// `z = x·Wᵀ + 1·bᵀ` unrolled, or `None`.
///
/// With [`COLUMN_MIN_OUTPUTS`] outputs or more, the weight columns are
/// gathered once into `[T; OUTPUTS]` locals and each row is `INPUTS`
/// vector multiply-adds into an accumulator array (LLVM turns each
/// `for o in 0..OUTPUTS` into SIMD). Fewer outputs: one sum of products
/// per output.
pub(super) fn dense_forward(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    dense_forward_then(model, layer, input, output, None, options)
}

/// The elementwise activations a small dense layer writes in its own row
/// loop (softmax acts on whole rows of the logits and stays apart).
pub(super) fn fusable(activation: Activation) -> bool {
    activation != Activation::Softmax
}

/// [`dense_forward`], and, when `then` names an activation `a = f(z)` of the
/// layer's output, `a` written in the same row loop: `relu`, `leaky_relu`
/// and `identity` entry by entry; `tanh` and `sigmoid` by a copy of the row,
/// then the runtime's slice form over the whole matrix (vectorized for f32).
/// Saves a pass over `z` and, for the slice forms, a `memcpy` call.
pub(super) fn dense_forward_then(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    then: Option<(Activation, ValueId)>,
    options: Options,
) -> Option<TokenStream> {
    let (inputs, outputs) = small_layer(model, layer, options)?;
    let rt = rt();
    let l = &model.layers[layer];
    let field = &l.name;
    let (x, z) = (value_ident(model, input), value_ident(model, output));
    let (load, w) = load_weights(model, layer, outputs, inputs);
    let xs = names("x", inputs);
    let bias = l.dense().is_some_and(|(_, _, bias)| bias);
    let barrier = row_barrier("x_row");
    if outputs >= COLUMN_MIN_OUTPUTS {
        let n = lit(outputs);
        let cols = names("w_col", inputs);
        let gather = (0..inputs).map(|i| {
            let (col, entries) = (&cols[i], (0..outputs).map(|j| &w[j][i]));
            quote!(let #col: [T; #n] = [#(#entries),*];)
        });
        let start = if bias {
            quote!(let mut acc: [T; #n] = *self.#field.bias.row(0);)
        } else {
            quote!(let mut acc: [T; #n] = [<T as #rt::Scalar>::ZERO; #n];)
        };
        let terms = (0..inputs).map(|i| {
            let (col, xi) = (&cols[i], &xs[i]);
            if i == 0 && !bias {
                quote!(for o in 0..#n { acc[o] = #xi * #col[o]; })
            } else {
                quote!(for o in 0..#n { acc[o] = acc[o] + #xi * #col[o]; })
            }
        });
        let (rows, store, after) = finish(&x, &z, then, outputs, model);
        return Some(quote! {
            {
                #load
                #(#gather)*
                for #rows {
                    #barrier
                    let [#(#xs),*] = *x_row;
                    #start
                    #(#terms)*
                    #store
                }
                #after
            }
        });
    }
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
    let n = lit(outputs);
    let (rows, store, after) = finish(&x, &z, then, outputs, model);
    Some(quote! {
        {
            #load
            #load_bias
            for #rows {
                #barrier
                let [#(#xs),*] = *x_row;
                let acc: [T; #n] = [#(#entries),*];
                #store
            }
            #after
        }
    })
}

/// The end of a forward row loop whose row `acc` is `z`'s: the loop
/// pattern and iterators, the stores of the row, and what runs after the
/// loop (the slice form of a fused `tanh` or `sigmoid`).
fn finish(
    x: &Ident,
    z: &Ident,
    then: Option<(Activation, ValueId)>,
    outputs: usize,
    model: &Model,
) -> (TokenStream, TokenStream, TokenStream) {
    let Some((activation, a)) = then else {
        return (
            quote!((x_row, z_row) in #x.rows().zip(#z.rows_mut())),
            quote!(*z_row = acc;),
            TokenStream::new(),
        );
    };
    let rt = rt();
    let a = value_ident(model, a);
    let f = super::forward::activation_type(activation);
    let rows = quote!(((x_row, z_row), a_row) in #x.rows().zip(#z.rows_mut()).zip(#a.rows_mut()));
    if matches!(activation, Activation::Tanh | Activation::Sigmoid) {
        (
            rows,
            quote!(*z_row = acc; *a_row = acc;),
            quote!(<#f as #rt::Activation>::apply_in_place::<T>(#a.as_mut_slice());),
        )
    } else {
        let n = lit(outputs);
        (
            rows,
            quote! {
                *z_row = acc;
                let mut act = acc;
                for o in 0..#n { act[o] = <#f as #rt::Activation>::apply::<T>(act[o]); }
                *a_row = act;
            },
            TokenStream::new(),
        )
    }
}

/// `dl_dw = dl_dzᵀ·x` and `dl_db = 1ᵀ·dl_dz` unrolled (accumulated in
/// local arrays over the rows, stored once), or `None`.
///
/// The accumulators run along the longer side, so each row is a few wide
/// vector multiply-adds: weight rows `[T; INPUTS]` (`+= d_j · x_row`) when
/// `INPUTS ≥ OUTPUTS`, stored as they are; otherwise weight columns
/// `[T; OUTPUTS]` (`+= x_i · d_row`), stored transposed at the end.
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
    let (ni, no) = (lit(inputs), lit(outputs));
    let zero = quote!(<T as #rt::Scalar>::ZERO);
    let bias = l.dense().is_some_and(|(_, _, bias)| bias);
    let db = format_ident!("dl_db{}", k);
    let (init_b, add_b, store_b) = if bias {
        (
            quote!(let mut #db: [T; #no] = [#zero; #no];),
            quote!(for o in 0..#no { #db[o] = #db[o] + d_row[o]; }),
            quote!(*grads.#field.bias.row_mut(0) = #db;),
        )
    } else {
        (TokenStream::new(), TokenStream::new(), TokenStream::new())
    };
    let (init_w, add_w, store_w) = if inputs >= outputs {
        let rows: Vec<Ident> = (0..outputs)
            .map(|j| format_ident!("dl_dw{}_row{}", k, j))
            .collect();
        let add = rows.iter().enumerate().map(|(j, row)| {
            let j = lit(j);
            quote!(for i in 0..#ni { #row[i] = #row[i] + d_row[#j] * x_row[i]; })
        });
        let store = rows
            .iter()
            .enumerate()
            .map(|(j, row)| quote!(*grads.#field.weight.row_mut(#j) = #row;));
        (
            quote!(#(let mut #rows: [T; #ni] = [#zero; #ni];)*),
            quote!(#(#add)*),
            quote!(#(#store)*),
        )
    } else {
        let cols: Vec<Ident> = (0..inputs)
            .map(|i| format_ident!("dl_dw{}_col{}", k, i))
            .collect();
        let add = cols.iter().enumerate().map(|(i, col)| {
            let i = lit(i);
            quote!(for o in 0..#no { #col[o] = #col[o] + x_row[#i] * d_row[o]; })
        });
        let store = (0..outputs).map(|j| {
            let j = lit(j);
            quote!(*grads.#field.weight.row_mut(#j) = [#(#cols[#j]),*];)
        });
        (
            quote!(#(let mut #cols: [T; #no] = [#zero; #no];)*),
            quote!(#(#add)*),
            quote!(#(#store)*),
        )
    };
    Some(quote! {
        {
            #init_w
            #init_b
            for (d_row, x_row) in #dz.rows().zip(#x.rows()) {
                #add_w
                #add_b
            }
            #store_w
            #store_b
        }
    })
}

/// `dl_dx = dl_dz·W` unrolled, or `None`: each row of `dl_dx` is a sum of
/// the weight rows `[T; INPUTS]` scaled by the row of `dl_dz`.
pub(super) fn dense_input_grad(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let (inputs, outputs) = small_layer(model, layer, options)?;
    let rt = rt();
    let field = &model.layers[layer].name;
    let (dx, dz) = (grad_ident(model, input), grad_ident(model, output));
    let ni = lit(inputs);
    let w_rows = names("w_row", outputs);
    let load = w_rows.iter().enumerate().map(|(j, row)| {
        let j = lit(j);
        quote!(let #row: [T; #ni] = *self.#field.weight.row(#j);)
    });
    let ds = names("d", outputs);
    let barrier = row_barrier("d_row");
    let terms = (0..outputs).map(|j| {
        let (row, d) = (&w_rows[j], &ds[j]);
        if j == 0 {
            quote!(for i in 0..#ni { acc[i] = #d * #row[i]; })
        } else {
            quote!(for i in 0..#ni { acc[i] = acc[i] + #d * #row[i]; })
        }
    });
    Some(quote! {
        {
            #(#load)*
            for (d_row, dx_row) in #dz.rows().zip(#dx.rows_mut()) {
                #barrier
                let [#(#ds),*] = *d_row;
                let mut acc: [T; #ni] = [<T as #rt::Scalar>::ZERO; #ni];
                #(#terms)*
                *dx_row = acc;
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
    if activation == Activation::Softmax {
        return None;
    }
    let width = small_width(model, input, options)?;
    let rt = rt();
    let f = super::forward::activation_type(activation);
    let (z, a) = (value_ident(model, input), value_ident(model, output));
    let zs = names("z", width);
    if matches!(activation, Activation::Tanh | Activation::Sigmoid) {
        // The runtime's slice form over the whole B×N matrix (vectorized for
        // f32) beats one scalar call per entry, except on one row narrower
        // than a vector: there the call, the copy and the padding cost more
        // (xor's sigmoid output at batch 1: forward 109 ns → 82 ns).
        if width >= 8 {
            return None;
        }
        return Some(quote! {
            if B == 1 {
                for (z_row, a_row) in #z.rows().zip(#a.rows_mut()) {
                    let [#(#zs),*] = *z_row;
                    *a_row = [#(<#f as #rt::Activation>::apply::<T>(#zs)),*];
                }
            } else {
                #rt::activate_into::<#f, T, B, _>(#z, #a);
            }
        });
    }
    Some(quote! {
        for (z_row, a_row) in #z.rows().zip(#a.rows_mut()) {
            let [#(#zs),*] = *z_row;
            *a_row = [#(<#f as #rt::Activation>::apply::<T>(#zs)),*];
        }
    })
}

/// `a = softmax(z)` for a batch of one row with a small literal width,
/// unrolled with the scalar `exp`, else the runtime's block form; or `None`
/// when the width is not small. On a single row of a few entries the vector
/// kernel's call, padding and reductions cost more than the scalar `exp`s
/// (iris, 16→3, batch-1 forward: 164 ns → 95 ns). Same form as the runtime:
/// the row maximum subtracted (NaN skipped by the comparison, a NaN entry
/// still makes its row NaN through the sum), then normalized.
pub(super) fn softmax_forward(
    model: &Model,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let width = small_width(model, input, options)?;
    let rt = rt();
    let (z, a) = (value_ident(model, input), value_ident(model, output));
    let zs = names("z", width);
    let es = names("e", width);
    let z0 = &zs[0];
    let rest = &zs[1..];
    Some(quote! {
        if B == 1 {
            for (z_row, a_row) in #z.rows().zip(#a.rows_mut()) {
                let [#(#zs),*] = *z_row;
                let max = #z0;
                #(let max = if #rest > max { #rest } else { max };)*
                #(let #es = <T as #rt::Scalar>::exp(#zs - max);)*
                let inv = <T as #rt::Scalar>::ONE / (#(#es)+*);
                *a_row = [#(#es * inv),*];
            }
        } else {
            #rt::softmax_rows_into(#z, #a);
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
