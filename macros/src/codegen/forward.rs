//! The forward pass and the loss: `forward`, `forward_with`, `loss`,
//! `loss_with`, and the shared `forward_logits`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_ident, rt, shape, shape2, unroll, value_ident, Names, Options};
use crate::check::{Model, Step, ValueId};
use crate::vocab::{Activation, LayerKind, LossKind};

/// The steps `forward_logits` runs: all, except the output activation of a
/// fused loss (the loss computes it from the logits).
pub(super) fn logits_steps(model: &Model) -> Vec<&Step> {
    model
        .steps
        .iter()
        .filter(|s| !is_fused_output_activation(model, s))
        .collect()
}

/// Whether `step` is the softmax or sigmoid whose loss is fused with it.
pub(super) fn is_fused_output_activation(model: &Model, step: &Step) -> bool {
    match (step, model.loss.logits) {
        (Step::Activation { input, output, .. }, Some(logits)) => {
            *input == logits && *output == model.output
        }
        _ => false,
    }
}

/// The values a sequence of steps reads or writes (never `x`, which is a
/// parameter, not a workspace field).
pub(super) fn values_of(steps: &[&Step]) -> Vec<ValueId> {
    let mut out = Vec::new();
    for step in steps {
        let (Step::Dense { input, output, .. } | Step::Activation { input, output, .. }) = step;
        for v in [*input, *output] {
            if v != 0 && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The statements of one forward step, tagged with what they compute.
pub(super) fn step_statements(model: &Model, step: &Step, options: Options) -> TokenStream {
    let rt = rt();
    match step {
        Step::Dense {
            layer,
            input,
            output,
            junction,
        } => {
            let l = &model.layers[*layer];
            let k = l.number;
            let (x, z) = (value_ident(model, *input), value_ident(model, *output));
            let (xn, zn) = (&model.values[*input].name, &model.values[*output].name);
            let bias = l.kind == LayerKind::Dense;
            let doc = if bias {
                format!(
                    " {zn} = {xn}·W{k}ᵀ + 1·b{k}ᵀ   {} = {}·{} + {}",
                    shape("B", &l.outputs),
                    shape("B", &l.inputs),
                    shape2(&l.inputs, &l.outputs),
                    shape("1", &l.outputs)
                )
            } else {
                format!(
                    " {zn} = {xn}·W{k}ᵀ   {} = {}·{}",
                    shape("B", &l.outputs),
                    shape("B", &l.inputs),
                    shape2(&l.inputs, &l.outputs)
                )
            };
            let field = &l.name;
            let then = fused_small_activation(model, step, options);
            if let Some(unrolled) = junction
                .is_none()
                .then(|| unroll::dense_forward_then(model, *layer, *input, *output, then, options))
                .flatten()
            {
                let doc = match then {
                    Some((activation, a)) => format!(
                        "{doc}; {} = {}({zn})   (unrolled, the activation written in the same row loop)",
                        model.values[a].name,
                        activation.name()
                    ),
                    None => format!("{doc}   (unrolled)"),
                };
                return quote! { #[doc = #doc] #unrolled };
            }
            let x = super::through_junction(quote!(#x), junction.as_deref(), false);
            if let Some(relu) = fused_relu(model, step, options) {
                let (a, an) = (value_ident(model, relu), &model.values[relu].name);
                let doc = format!("{doc}; {an} = relu({zn})   (relu fused into the product)");
                return quote! {
                    #[doc = #doc]
                    #rt::ops::matmul_t_bias_relu_into(#x, &self.#field.weight, &self.#field.bias, #z, #a);
                };
            }
            quote! {
                #[doc = #doc]
                self.#field.forward_into(#x, #z);
            }
        }
        Step::Activation {
            activation,
            input,
            output,
        } => {
            if model.steps.iter().any(|s| {
                fused_relu(model, s, options) == Some(*output)
                    || fused_small_activation(model, s, options).map(|(_, a)| a) == Some(*output)
            }) {
                // Written by the dense step before it.
                return TokenStream::new();
            }
            let (z, a) = (value_ident(model, *input), value_ident(model, *output));
            let doc = format!(
                " {} = {}({})   {}",
                model.values[*output].name,
                activation.name(),
                model.values[*input].name,
                shape("B", &model.values[*output].width)
            );
            if let Some(unrolled) =
                unroll::activation_forward(model, *activation, *input, *output, options)
            {
                let doc = format!("{doc}   (unrolled)");
                return quote! { #[doc = #doc] #unrolled };
            }
            if *activation == Activation::Softmax {
                if let Some(unrolled) = unroll::softmax_forward(model, *input, *output, options) {
                    let doc = format!("{doc}   (one row: unrolled with the scalar exp)");
                    return quote! { #[doc = #doc] #unrolled };
                }
            }
            let call = match activation {
                Activation::Softmax => quote!(#rt::softmax_rows_into(#z, #a);),
                other => {
                    let f = activation_type(*other);
                    quote!(#rt::activate_into::<#f, T, B, _>(#z, #a);)
                }
            };
            quote! { #[doc = #doc] #call }
        }
    }
}

/// The elementwise activation (and its output) that the unrolled dense
/// `step` writes in its own row loop: the activation step right after it,
/// unless it is the output activation of a fused loss (which the loss
/// computes) or softmax.
fn fused_small_activation(
    model: &Model,
    step: &Step,
    options: Options,
) -> Option<(Activation, ValueId)> {
    let Step::Dense {
        layer,
        input,
        output,
        junction: None,
    } = step
    else {
        return None;
    };
    unroll::dense_forward(model, *layer, *input, *output, options)?;
    model.steps.iter().find_map(|s| match s {
        Step::Activation {
            activation,
            input: z,
            output: a,
        } if z == output
            && unroll::fusable(*activation)
            && !is_fused_output_activation(model, s) =>
        {
            Some((*activation, *a))
        }
        _ => None,
    })
}

/// The output of the relu that the kernel-path dense `step` (with a bias)
/// writes as it stores its product, when the relu follows it directly and is
/// not unrolled; `None` otherwise.
fn fused_relu(model: &Model, step: &Step, options: Options) -> Option<ValueId> {
    let Step::Dense {
        layer,
        input,
        output,
        junction,
    } = step
    else {
        return None;
    };
    if model.layers[*layer].kind != LayerKind::Dense
        || (junction.is_none()
            && unroll::dense_forward(model, *layer, *input, *output, options).is_some())
    {
        return None;
    }
    model.steps.iter().find_map(|s| match s {
        Step::Activation {
            activation: Activation::Relu,
            input: z,
            output: a,
        } if z == output
            && unroll::activation_forward(model, Activation::Relu, *z, *a, options).is_none() =>
        {
            Some(*a)
        }
        _ => None,
    })
}

/// The runtime's zero-sized type of an elementwise activation.
pub(super) fn activation_type(activation: Activation) -> TokenStream {
    let rt = rt();
    match activation {
        Activation::Identity | Activation::Softmax => quote!(#rt::Identity),
        Activation::Sigmoid => quote!(#rt::Sigmoid),
        Activation::Tanh => quote!(#rt::Tanh),
        Activation::Relu => quote!(#rt::Relu),
        Activation::LeakyRelu => quote!(#rt::LeakyRelu),
    }
}

/// `let NetWorkspace { z1, a1, .. } = ws;` binding exactly `values` and
/// `grads`.
pub(super) fn bind_workspace(
    names: &Names,
    model: &Model,
    values: &[ValueId],
    grads: &[ValueId],
) -> TokenStream {
    let ws = &names.ws;
    let vs = values.iter().map(|v| value_ident(model, *v));
    let gs = grads.iter().map(|v| grad_ident(model, *v));
    quote!(let #ws { #(#vs,)* #(#gs,)* .. } = ws;)
}

/// The loss statement: `let loss = …;`, writing the gradient of the output
/// (or of the logits, fused) when `with_gradient`.
pub(super) fn loss_statement(model: &Model, with_gradient: bool) -> TokenStream {
    let rt = rt();
    let out = &model.values[model.output];
    let (a, an) = (value_ident(model, model.output), &out.name);
    let n = out.width.text();
    let some = |g: &proc_macro2::Ident| {
        if with_gradient {
            quote!(::core::option::Option::Some(#g))
        } else {
            quote!(::core::option::Option::None)
        }
    };
    let (doc, call) = match (model.loss.kind, model.loss.logits) {
        (LossKind::CrossEntropy, Some(logits)) => {
            let (z, zn) = (value_ident(model, logits), &model.values[logits].name);
            let g = grad_ident(model, logits);
            let grad = some(&g);
            (
                format!(
                    " fused softmax + cross-entropy: l = −Σ Y⊗ln softmax({zn}) / B, {an} = softmax({zn}), dl_d{zn} = ({an} − Y)/B   [B×{n}]"
                ),
                quote!(#rt::losses::softmax_cross_entropy(#z, y, #a, #grad)),
            )
        }
        (LossKind::BinaryCrossEntropy, Some(logits)) => {
            let (z, zn) = (value_ident(model, logits), &model.values[logits].name);
            let g = grad_ident(model, logits);
            let grad = some(&g);
            (
                format!(
                    " fused sigmoid + binary cross-entropy: l = mean of −[Y⊗ln σ({zn}) + (1 − Y)⊗ln(1 − σ({zn}))], {an} = σ({zn}), dl_d{zn} = ({an} − Y)/(B·{n})   [B×{n}]"
                ),
                quote!(#rt::losses::sigmoid_binary_cross_entropy(#z, y, #a, #grad)),
            )
        }
        (LossKind::Mse, _) => {
            let g = grad_ident(model, model.output);
            let grad = some(&g);
            (
                format!(
                    " mean squared error: l = Σ({an} − Y)² / (B·{n}), dl_d{an} = 2({an} − Y)/(B·{n})   [B×{n}]"
                ),
                quote!(#rt::losses::mse(#a, y, #grad)),
            )
        }
        _ => {
            let g = grad_ident(model, model.output);
            let grad = some(&g);
            (
                format!(
                    " sum of squared errors: l = Σ({an} − Y)², dl_d{an} = 2({an} − Y)   [B×{n}]"
                ),
                quote!(#rt::losses::sse(#a, y, #grad)),
            )
        }
    };
    quote! {
        #[doc = #doc]
        let loss = #call;
    }
}

/// The values the loss statement reads or writes.
pub(super) fn loss_values(model: &Model) -> Vec<ValueId> {
    match model.loss.logits {
        Some(logits) => vec![logits, model.output],
        None => vec![model.output],
    }
}

/// `forward_logits`, `forward_with`, `forward`, `loss_with`, `loss`.
pub(super) fn methods(model: &Model, names: &Names, options: Options) -> TokenStream {
    let rt = rt();
    let ws_ty = names.ws_ty();
    let input_width = &model.values[0].width;
    let output_width = &model.values[model.output].width;
    let out = value_ident(model, model.output);

    let steps = logits_steps(model);
    let statements: Vec<TokenStream> = steps
        .iter()
        .map(|s| step_statements(model, s, options))
        .collect();
    let bind = bind_workspace(names, model, &values_of(&steps), &[]);

    // forward_with: the logits, then the output activation of a fused loss.
    let fused: Vec<&Step> = model
        .steps
        .iter()
        .filter(|s| is_fused_output_activation(model, s))
        .collect();
    let finish = if fused.is_empty() {
        TokenStream::new()
    } else {
        let bind = bind_workspace(names, model, &values_of(&fused), &[]);
        let statements = fused.iter().map(|s| step_statements(model, s, options));
        quote! {
            {
                #bind
                #(#statements)*
            }
        }
    };
    let bind_loss = bind_workspace(names, model, &loss_values(model), &[]);
    let loss = loss_statement(model, false);
    let ws_name = &names.ws;
    quote! {
        /// The forward pass up to the logits (all of it unless the loss is
        /// fused with the output activation).
        #[inline]
        #[allow(unused_doc_comments, clippy::all)]
        fn forward_logits<const B: ::core::primitive::usize>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
            ws: &mut #ws_ty,
        ) {
            #bind
            #(#statements)*
        }

        /// The forward pass over `B` rows into the workspace; returns the
        /// output (after the output activation).
        #[allow(unused_doc_comments, clippy::all)]
        pub fn forward_with<'w, const B: ::core::primitive::usize>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
            ws: &'w mut #ws_ty,
        ) -> &'w #rt::Matrix<T, B, #output_width> {
            self.forward_logits::<B>(x, ws);
            #finish
            &ws.#out
        }

        /// The output for `B` rows (allocates a workspace; see
        /// [`forward_with`](Self::forward_with) to reuse one).
        #[must_use]
        pub fn forward<const B: ::core::primitive::usize>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
        ) -> #rt::Matrix<T, B, #output_width> {
            let mut ws = #ws_name::new();
            self.forward_with::<B>(x, &mut ws);
            ws.#out
        }

        /// The loss over `B` rows into the workspace, without gradients.
        #[allow(unused_doc_comments, clippy::all)]
        pub fn loss_with<const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
            y: &Y,
            ws: &mut #ws_ty,
        ) -> T {
            self.forward_logits::<B>(x, ws);
            #bind_loss
            #loss
            loss
        }

        /// The loss over `B` rows (allocates a workspace; see
        /// [`loss_with`](Self::loss_with) to reuse one).
        #[must_use]
        pub fn loss<const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
            y: &Y,
        ) -> T {
            let mut ws = #ws_name::new();
            self.loss_with::<B, Y>(x, y, &mut ws)
        }
    }
}
