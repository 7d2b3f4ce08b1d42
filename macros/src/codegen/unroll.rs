//! Small dense layers: the runtime's fixed-size forms instead of the kernels.
//!
//! A dense layer whose literal dimensions give at most
//! [`MEASURED_MAX_WEIGHTS`] weights, or at most
//! [`MEASURED_MAX_ONE_ROW_DIM`] inputs and outputs, calls
//! `chainrule::dense`, whose functions
//! choose, product by product and from their constant dimensions, between
//! the fixed-size forms of `chainrule::small` (each batch row a few
//! vector-wide operations over arrays whose lengths are the layer's
//! dimensions) and the kernels: the measured cost model `dense::pays`.
//! `#[chainrule(unroll = N)]` replaces the model: layers of at most `N`
//! weights call `chainrule::small` directly, the others the kernels.
//!
//! Until issue 15 the macro wrote these loops out itself, every weight a
//! local of the generated function: fast, but a compile time that grew
//! faster than the network (a 16-layer 16×16 network took 10 s to rebuild in
//! release, against 1.1 s with the kernels). The forms are generic
//! functions, so a network repeating a layer shape compiles it once.
//!
//! The measurements are in `docs/benchmarks.md` ("Small layers"), from
//! `cargo bench --bench small_forms` and `scripts/unroll-sweep`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_ident, rt, value_ident, Options};
use crate::check::{Model, ValueId};
use crate::vocab::Activation;

/// Dense layers of at most this many weights call the runtime's
/// `dense` module, whose cost model (`dense::pays`) picks the small form or
/// the kernels product by product; the same limit as its `MAX_WEIGHTS`.
pub const MEASURED_MAX_WEIGHTS: usize = 1024;

/// So do layers of at most this many inputs and outputs (their gradients
/// over one batch row); the runtime's `dense::MAX_ONE_ROW_DIM`.
pub const MEASURED_MAX_ONE_ROW_DIM: usize = 512;

/// How a small dense layer's products are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Small {
    /// By the runtime's cost model (`dense::forward`, …).
    Measured,
    /// Always by the small forms (`small::forward`, …): the user's
    /// `#[chainrule(unroll = n)]`.
    Forced,
}

impl Small {
    /// The runtime module whose functions the generated code calls.
    fn module(self) -> TokenStream {
        let rt = rt();
        match self {
            Small::Measured => quote!(#rt::dense),
            Small::Forced => quote!(#rt::small),
        }
    }

    /// The tag of the generated statement's doc comment.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Small::Measured => "the row-by-row form or the kernels, as dense::pays measured",
            Small::Forced => "small layer: row by row",
        }
    }
}

/// Whether a dense layer takes the small forms, and how.
pub(super) fn small_layer(model: &Model, layer: usize, options: Options) -> Option<Small> {
    let (inputs, outputs, _) = model.layers[layer].dense()?;
    let (inputs, outputs) = (inputs.known()?, outputs.known()?);
    // Checked: the check stage rejects layers whose weight count overflows.
    let weights = inputs.checked_mul(outputs)?;
    match options.unroll {
        None => (weights <= MEASURED_MAX_WEIGHTS
            || (inputs <= MEASURED_MAX_ONE_ROW_DIM && outputs <= MEASURED_MAX_ONE_ROW_DIM))
            .then_some(Small::Measured),
        Some(max) => (weights <= max).then_some(Small::Forced),
    }
}

/// The bias argument of a small form: `Some(&self.layer.bias)` or `None`.
fn bias_argument(model: &Model, layer: usize, gradient: bool) -> TokenStream {
    let field = &model.layers[layer].name;
    let bias = model.layers[layer].dense().is_some_and(|(_, _, bias)| bias);
    match (bias, gradient) {
        (false, _) => quote!(::core::option::Option::None),
        (true, false) => quote!(::core::option::Option::Some(&self.#field.bias)),
        (true, true) => quote!(::core::option::Option::Some(&mut grads.#field.bias)),
    }
}

/// The elementwise activations a small dense layer computes in its own row
/// loop (softmax acts on whole rows of the logits and stays apart).
pub(super) fn fusable(activation: Activation) -> bool {
    activation != Activation::Softmax
}

/// `z = x·Wᵀ + 1·bᵀ` by the small form and, when `then` names an activation
/// `a = f(z)` of the layer's output, `a` computed in the same pass over the
/// rows; `None` when the layer is not small.
pub(super) fn dense_forward_then(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    then: Option<(Activation, ValueId)>,
    options: Options,
) -> Option<TokenStream> {
    let module = small_layer(model, layer, options)?.module();
    let field = &model.layers[layer].name;
    let (x, z) = (value_ident(model, input), value_ident(model, output));
    let bias = bias_argument(model, layer, false);
    Some(match then {
        None => quote! {
            #module::forward(#x, &self.#field.weight, #bias, #z);
        },
        Some((activation, a)) => {
            let f = super::forward::activation_type(activation);
            let a = value_ident(model, a);
            quote! {
                #module::forward_activate::<#f, T, B, _, _>(#x, &self.#field.weight, #bias, #z, #a);
            }
        }
    })
}

/// Rule 5 and the bias gradient (written, not added) by the small form, or
/// `None`.
pub(super) fn dense_backward(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let module = small_layer(model, layer, options)?.module();
    let field = &model.layers[layer].name;
    let (x, dz) = (value_ident(model, input), grad_ident(model, output));
    let bias = bias_argument(model, layer, true);
    Some(quote! {
        #module::weight_grad(#dz, #x, &mut grads.#field.weight, #bias);
    })
}

/// Rule 6 (written) by the small form, or `None`.
pub(super) fn dense_input_grad(
    model: &Model,
    layer: usize,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> Option<TokenStream> {
    let module = small_layer(model, layer, options)?.module();
    let field = &model.layers[layer].name;
    let (dx, dz) = (grad_ident(model, input), grad_ident(model, output));
    Some(quote! {
        #module::input_grad(#dz, &self.#field.weight, #dx);
    })
}
