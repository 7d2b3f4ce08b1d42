//! The forward pass and the losses: `forward`, `forward_with`, `loss`,
//! `loss_with`, and the shared `forward_logits`; one function per operation
//! kind writes that operation's statements.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{
    factor, grad_ident, rt, shape, shape2, unroll, value_ident, value_name, value_shape, Names,
    Options,
};
use crate::check::{Model, Shape, Step, ValueId};
use crate::vocab::{Activation, LossKind};

/// The indices of the steps `forward_logits` runs: all, except the output
/// activations of fused losses (the loss computes them from the logits).
pub(super) fn logits_steps(model: &Model) -> Vec<usize> {
    (0..model.steps.len())
        .filter(|&s| !is_fused_output_activation(model, s))
        .collect()
}

/// Whether step `index` is the softmax or sigmoid whose loss is fused with
/// it.
pub(super) fn is_fused_output_activation(model: &Model, index: usize) -> bool {
    match &model.steps[index] {
        Step::Activation { input, output, .. } => model
            .outputs
            .iter()
            .any(|o| o.value == *output && o.loss.logits == Some(*input)),
        _ => false,
    }
}

/// The buffers (storage values) a set of steps reads or writes, inputs
/// excluded (they are arguments, not workspace fields).
pub(super) fn values_of(model: &Model, steps: &[usize]) -> Vec<ValueId> {
    let mut out = Vec::new();
    for &s in steps {
        let step = &model.steps[s];
        let mut values = step.inputs();
        values.push(step.output());
        for v in values {
            let v = model.storage(v);
            if v >= model.inputs.len() && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The extra buffers a step keeps for its backward pass (layer norm's
/// normalised values and inverse deviations), as `(field, doc, type)`.
pub(super) fn step_buffers(
    model: &Model,
    step: &Step,
) -> Vec<(proc_macro2::Ident, String, TokenStream)> {
    let rt = rt();
    match step {
        Step::LayerNorm { output, .. } => {
            let name = &model.values[*output].name;
            let width = model.width(*output);
            vec![
                (
                    format_ident!("{}_x_hat", name),
                    format!(
                        " The normalised rows of `{name}`'s input, `(x − μ)/√(σ² + ε)`, B×{}.",
                        width.text()
                    ),
                    quote!(#rt::Matrix<T, B, #width>),
                ),
                (
                    format_ident!("{}_inv_std", name),
                    format!(" `1/√(σ² + ε)` of each row of `{name}`'s input, B×1."),
                    quote!(#rt::Matrix<T, B, 1>),
                ),
            ]
        }
        Step::Conv2d { output, .. } => {
            let index = model
                .steps
                .iter()
                .position(|s| s.output() == *output)
                .unwrap_or(0);
            let (size, scratch) = super::conv::patch_sizes(model, index);
            let size = proc_macro2::Literal::usize_unsuffixed(size);
            let scratch = proc_macro2::Literal::usize_unsuffixed(scratch);
            let (patches, dpatches) = super::conv::patch_buffers(model, *output);
            let name = &model.values[*output].name;
            vec![
                (
                    patches,
                    format!(" One image's unfolded input windows (im2col) of `{name}` (C·K·K rows of the positions padded to a multiple of 8), refilled image by image in the forward pass and again for rule 5."),
                    quote!(#rt::Matrix<T, 1, #size>),
                ),
                (
                    dpatches,
                    format!(" Scratch of `{name}`: one image's `∂l/∂P` (rule 6 on the patches) before it is folded back, or the transposed weight gradient (rule 5); with padding, a zero-padded image."),
                    quote!(#rt::Matrix<T, 1, #scratch>),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

/// The statements of forward step `index`, tagged with what they compute.
pub(super) fn step_statements(model: &Model, index: usize, options: Options) -> TokenStream {
    match &model.steps[index] {
        Step::Dense { .. } => dense(model, index, options),
        Step::Activation {
            activation,
            input,
            output,
        } => activation_step(model, *activation, *input, *output, options),
        Step::Add {
            lhs,
            rhs,
            output,
            junction,
        } => {
            let rt = rt();
            let (a, b, c) = (
                value_ident(model, *lhs),
                value_ident(model, *rhs),
                value_ident(model, *output),
            );
            let b = super::through_junction(quote!(#b), junction.as_deref(), false);
            let doc = format!(
                " {} = {} + {}   {}",
                value_name(model, *output),
                value_name(model, *lhs),
                value_name(model, *rhs),
                value_shape(model, *output)
            );
            quote! { #[doc = #doc] #rt::ops::add_into(#a, #b, #c); }
        }
        Step::Mul {
            lhs,
            rhs,
            output,
            junction,
        } => {
            let rt = rt();
            let (a, b, c) = (
                value_ident(model, *lhs),
                value_ident(model, *rhs),
                value_ident(model, *output),
            );
            let b = super::through_junction(quote!(#b), junction.as_deref(), false);
            let doc = format!(
                " {} = {} ⊗ {} (elementwise)   {}",
                value_name(model, *output),
                value_name(model, *lhs),
                value_name(model, *rhs),
                value_shape(model, *output)
            );
            quote! { #[doc = #doc] #rt::ops::hadamard_into(#a, #b, #c); }
        }
        Step::Concat { inputs, output } => {
            let rt = rt();
            let c = value_ident(model, *output);
            let mut out = TokenStream::new();
            for (part, offset) in inputs.iter().zip(concat_offsets(model, inputs)) {
                let p = value_ident(model, *part);
                let doc = format!(
                    " {}[:, {}..] = {}   (concat: {} side by side)",
                    value_name(model, *output),
                    offset.text,
                    value_name(model, *part),
                    inputs
                        .iter()
                        .map(|v| value_name(model, *v))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let from = &offset.tokens;
                out.extend(quote! { #[doc = #doc] #rt::ops::Columns::<#from>::place(#p, #c); });
            }
            out
        }
        Step::LayerNorm {
            layer,
            input,
            output,
        } => {
            let field = &model.layers[*layer].name;
            let (x, y) = (value_ident(model, *input), value_ident(model, *output));
            let on = &model.values[*output].name;
            let (x_hat, inv_std) = (
                format_ident!("{}_x_hat", on),
                format_ident!("{}_inv_std", on),
            );
            let doc = format!(
                " {on} = γ ⊗ ({x} − μ)/√(σ² + ε) + β, per row (layer norm `{field}`)   {}",
                value_shape(model, *output),
                x = value_name(model, *input),
            );
            quote! { #[doc = #doc] self.#field.forward_into(#x, #x_hat, #inv_std, #y); }
        }
        // No computation: the flat value is the image's buffer.
        Step::Flatten { .. } => TokenStream::new(),
        Step::Conv2d { .. } | Step::Pool { .. } | Step::GlobalAvgPool { .. } => {
            super::conv::forward(model, index)
        }
    }
}

/// The starting column of each part of a concatenation, as tokens (a
/// literal, or a `{ A + B }` of `const` items) and text.
pub(super) struct Offset {
    /// For the generated code.
    pub tokens: TokenStream,
    /// For the comments.
    pub text: String,
}

/// The offsets of the parts of `concat(inputs…)`.
pub(super) fn concat_offsets(model: &Model, inputs: &[ValueId]) -> Vec<Offset> {
    let mut out = Vec::new();
    let mut known = Some(0usize);
    let mut named: Vec<crate::parse::Dim> = Vec::new();
    for &part in inputs {
        let (tokens, text) = match known {
            Some(n) if named.is_empty() => {
                let lit = proc_macro2::Literal::usize_unsuffixed(n);
                (quote!(#lit), n.to_string())
            }
            _ => {
                let lit = proc_macro2::Literal::usize_unsuffixed(known.unwrap_or(0));
                (
                    quote!({ #lit #(+ #named)* }),
                    named
                        .iter()
                        .map(crate::parse::Dim::text)
                        .collect::<Vec<_>>()
                        .join(" + "),
                )
            }
        };
        out.push(Offset { tokens, text });
        let width = model.width(part);
        match width.known() {
            Some(n) => known = known.and_then(|k| k.checked_add(n)),
            None => named.push(width),
        }
    }
    out
}

/// `z = x·Wᵀ + 1·bᵀ`: by the small forms, or with a following relu in the product's
/// store, or the layer's `forward_into`.
fn dense(model: &Model, index: usize, options: Options) -> TokenStream {
    let rt = rt();
    let Step::Dense {
        layer,
        input,
        output,
        junction,
    } = &model.steps[index]
    else {
        return TokenStream::new();
    };
    let l = &model.layers[*layer];
    let Some((inputs, outputs, bias)) = l.dense() else {
        return TokenStream::new();
    };
    let (x, z) = (value_ident(model, *input), value_ident(model, *output));
    let (xn, zn) = (value_name(model, *input), value_name(model, *output));
    let w = weight_name(model, *layer);
    let b = bias_name(model, *layer);
    let doc = if bias {
        format!(
            " {zn} = {xn}·{w}ᵀ + 1·{b}ᵀ   {} = {}·{} + {}",
            shape("B", outputs),
            shape("B", inputs),
            shape2(inputs, outputs),
            shape("1", outputs)
        )
    } else {
        format!(
            " {zn} = {xn}·{w}ᵀ   {} = {}·{}",
            shape("B", outputs),
            shape("B", inputs),
            shape2(inputs, outputs)
        )
    };
    let field = &l.name;
    let then = fused_small_activation(model, index, options);
    if let Some(small) = junction
        .is_none()
        .then(|| unroll::dense_forward_then(model, *layer, *input, *output, then, options))
        .flatten()
    {
        let tag = unroll::small_layer(model, *layer, options).map_or("", |small| small.tag());
        let doc = match then {
            Some((activation, a)) => format!(
                "{doc}; {} = {}({zn})   ({tag}, the activation in the same pass)",
                value_name(model, a),
                activation.name()
            ),
            None => format!("{doc}   ({tag})"),
        };
        return quote! { #[doc = #doc] #small };
    }
    let x = super::through_junction(quote!(#x), junction.as_deref(), false);
    if let Some(relu) = fused_relu(model, index, options) {
        let (a, an) = (value_ident(model, relu), value_name(model, relu));
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

/// `W2` (sequential form) or `second.weight` (graph form): a layer's weight
/// in comments.
pub(super) fn weight_name(model: &Model, layer: usize) -> String {
    match model.form {
        crate::ir::Form::Sequential => format!("W{}", model.layers[layer].number),
        crate::ir::Form::Graph => format!("{}.weight", model.layers[layer].name),
    }
}

/// `b2` or `second.bias`.
pub(super) fn bias_name(model: &Model, layer: usize) -> String {
    match model.form {
        crate::ir::Form::Sequential => format!("b{}", model.layers[layer].number),
        crate::ir::Form::Graph => format!("{}.bias", model.layers[layer].name),
    }
}

/// `a = f(z)`, in the small layer's pass or through the runtime.
fn activation_step(
    model: &Model,
    activation: Activation,
    input: ValueId,
    output: ValueId,
    options: Options,
) -> TokenStream {
    let rt = rt();
    if (0..model.steps.len()).any(|s| {
        fused_relu(model, s, options) == Some(output)
            || fused_small_activation(model, s, options).map(|(_, a)| a) == Some(output)
    }) {
        // Written by the dense step before it.
        return TokenStream::new();
    }
    let (z, a) = (value_ident(model, input), value_ident(model, output));
    let doc = format!(
        " {} = {}({})   {}",
        value_name(model, output),
        activation.name(),
        value_name(model, input),
        value_shape(model, output)
    );
    let call = match activation {
        Activation::Softmax => quote!(#rt::softmax_rows_into(#z, #a);),
        other => {
            let f = activation_type(other);
            quote!(#rt::activate_into::<#f, T, B, _>(#z, #a);)
        }
    };
    quote! { #[doc = #doc] #call }
}

/// The elementwise activation (and its output) that the small dense
/// step `index` writes in its own row loop: the activation step of its
/// output, unless it is the output activation of a fused loss (which the
/// loss computes) or softmax.
pub(super) fn fused_small_activation(
    model: &Model,
    index: usize,
    options: Options,
) -> Option<(Activation, ValueId)> {
    let Step::Dense {
        layer,
        output,
        junction: None,
        ..
    } = &model.steps[index]
    else {
        return None;
    };
    unroll::small_layer(model, *layer, options)?;
    model
        .steps
        .iter()
        .enumerate()
        .find_map(|(s, step)| match step {
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

/// The output of the relu that the kernel-path dense step `index` (with a
/// bias) writes as it stores its product, when a relu reads its output and
/// is not a small layer; `None` otherwise.
pub(super) fn fused_relu(model: &Model, index: usize, options: Options) -> Option<ValueId> {
    let Step::Dense {
        layer,
        output,
        junction,
        ..
    } = &model.steps[index]
    else {
        return None;
    };
    if !model.layers[*layer]
        .dense()
        .is_some_and(|(_, _, bias)| bias)
        || (junction.is_none() && unroll::small_layer(model, *layer, options).is_some())
    {
        return None;
    }
    model.steps.iter().find_map(|s| match s {
        Step::Activation {
            activation: Activation::Relu,
            input: z,
            output: a,
        } if z == output => Some(*a),
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

/// `let NetWorkspace { z1, a1, .. } = ws;` binding exactly `values`,
/// `grads` and `extra` fields.
pub(super) fn bind_workspace(
    names: &Names,
    model: &Model,
    values: &[ValueId],
    grads: &[ValueId],
    extra: &[proc_macro2::Ident],
) -> TokenStream {
    let ws = &names.ws;
    let vs = values.iter().map(|v| value_ident(model, *v));
    let gs = grads.iter().map(|v| grad_ident(model, *v));
    quote!(let #ws { #(#vs,)* #(#gs,)* #(#extra,)* .. } = ws;)
}

/// The extra buffers of a set of steps.
pub(super) fn extra_buffers(model: &Model, steps: &[usize]) -> Vec<proc_macro2::Ident> {
    steps
        .iter()
        .flat_map(|&s| step_buffers(model, &model.steps[s]))
        .map(|(field, _, _)| field)
        .collect()
}

/// The identifier of the targets of output `k` in the generated methods.
pub(super) fn targets_ident(model: &Model, k: usize) -> proc_macro2::Ident {
    format_ident!("{}", model.outputs[k].loss.targets)
}

/// The loss statements: `let loss = …;`, writing the gradient of each
/// output (or of its logits, fused) when `with_gradient`.
pub(super) fn loss_statements(model: &Model, with_gradient: bool) -> TokenStream {
    let rt = rt();
    let single = model.outputs.len() == 1;
    let mut statements = TokenStream::new();
    let mut terms = Vec::new();
    for (k, output) in model.outputs.iter().enumerate() {
        let a = value_ident(model, output.value);
        let an = value_name(model, output.value);
        let n = model.width(output.value).text();
        let y = targets_ident(model, k);
        let some = |g: &proc_macro2::Ident| {
            if with_gradient {
                quote!(::core::option::Option::Some(#g))
            } else {
                quote!(::core::option::Option::None)
            }
        };
        let (doc, call, grad) = match (output.loss.kind, output.loss.logits) {
            (LossKind::CrossEntropy, Some(logits)) => {
                let (z, zn) = (value_ident(model, logits), value_name(model, logits));
                let g = grad_ident(model, logits);
                let grad = some(&g);
                (
                    format!(
                        " fused softmax + cross-entropy: l = −Σ Y⊗ln softmax({zn}) / B, {an} = softmax({zn}), dl_d{zn} = ({an} − Y)/B   [B×{n}]"
                    ),
                    quote!(#rt::losses::softmax_cross_entropy(#z, #y, #a, #grad)),
                    g,
                )
            }
            (LossKind::BinaryCrossEntropy, Some(logits)) => {
                let (z, zn) = (value_ident(model, logits), value_name(model, logits));
                let g = grad_ident(model, logits);
                let grad = some(&g);
                (
                    format!(
                        " fused sigmoid + binary cross-entropy: l = mean of −[Y⊗ln σ({zn}) + (1 − Y)⊗ln(1 − σ({zn}))], {an} = σ({zn}), dl_d{zn} = ({an} − Y)/(B·{n})   [B×{n}]"
                    ),
                    quote!(#rt::losses::sigmoid_binary_cross_entropy(#z, #y, #a, #grad)),
                    g,
                )
            }
            (LossKind::Mse, _) => {
                let g = grad_ident(model, output.value);
                let grad = some(&g);
                (
                    format!(
                        " mean squared error: l = Σ({an} − Y)² / (B·{n}), dl_d{an} = 2({an} − Y)/(B·{n})   [B×{n}]"
                    ),
                    quote!(#rt::losses::mse(#a, #y, #grad)),
                    g,
                )
            }
            _ => {
                let g = grad_ident(model, output.value);
                let grad = some(&g);
                (
                    format!(
                        " sum of squared errors: l = Σ({an} − Y)², dl_d{an} = 2({an} − Y)   [B×{n}]"
                    ),
                    quote!(#rt::losses::sse(#a, #y, #grad)),
                    g,
                )
            }
        };
        if single && output.loss.weight.is_none() {
            statements.extend(quote! { #[doc = #doc] let loss = #call; });
            continue;
        }
        let term = format_ident!("loss_{}", output.name);
        statements.extend(quote! { #[doc = #doc] let #term = #call; });
        match &output.loss.weight {
            Some(w) => {
                let f = factor(w.value);
                if with_gradient {
                    let doc = format!(
                        " the term's weight: l = {} · l_{}, so {} ← {} · {}",
                        w.text, output.name, grad, w.text, grad
                    );
                    statements
                        .extend(quote! { #[doc = #doc] #rt::ops::scale_in_place(#f, #grad); });
                }
                terms.push(quote!(#f * #term));
            }
            None => terms.push(quote!(#term)),
        }
    }
    if !terms.is_empty() {
        let doc = format!(
            " the loss: the weighted sum of its terms, l = {}",
            model
                .outputs
                .iter()
                .map(|o| match &o.loss.weight {
                    Some(w) => format!("{}·l_{}", w.text, o.name),
                    None => format!("l_{}", o.name),
                })
                .collect::<Vec<_>>()
                .join(" + ")
        );
        statements.extend(quote! { #[doc = #doc] let loss = #(#terms)+*; });
    }
    statements
}

/// The penalties added to the loss: without gradients (`loss_with`), or
/// with their gradients added to the weights' (the end of `backward`).
pub(super) fn penalty_statements(model: &Model, with_gradient: bool) -> TokenStream {
    let rt = rt();
    let mut out = TokenStream::new();
    for penalty in &model.penalties {
        let lambda = factor(penalty.weight.as_ref().map_or(1.0, |w| w.value));
        let text = penalty
            .weight
            .as_ref()
            .map_or("1".to_string(), |w| w.text.clone());
        for (layer, tensor) in &penalty.tensors {
            let field = &model.layers[*layer].name;
            let t = format_ident!("{}", tensor);
            if with_gradient {
                let doc = format!(
                    " L2 penalty: l += {text}·Σ {field}.{tensor}², so ∂l/∂{field}.{tensor} += 2·{text}·{field}.{tensor}"
                );
                out.extend(quote! {
                    #[doc = #doc]
                    let loss = loss + #rt::rules::l2_penalty_acc(#lambda, self.#field.#t.as_slice(), grads.#field.#t.as_mut_slice());
                });
            } else {
                let doc = format!(" L2 penalty: l += {text}·Σ {field}.{tensor}²");
                out.extend(quote! {
                    #[doc = #doc]
                    let loss = loss + #rt::rules::l2_penalty(#lambda, self.#field.#t.as_slice());
                });
            }
        }
    }
    out
}

/// The buffers the loss statements read or write.
pub(super) fn loss_values(model: &Model) -> Vec<ValueId> {
    let mut out = Vec::new();
    for output in &model.outputs {
        if let Some(logits) = output.loss.logits {
            out.push(model.storage(logits));
        }
        out.push(model.storage(output.value));
    }
    out
}

/// The width of a value as tokens (a literal for images).
pub(super) fn width_tokens(model: &Model, value: ValueId) -> crate::parse::Dim {
    match &model.values[value].shape {
        Shape::Flat(dim) => dim.clone(),
        image @ Shape::Image { .. } => image.features(proc_macro2::Span::call_site()),
    }
}

/// The signature pieces every method shares.
pub(super) struct Signature {
    /// `x: &Matrix<T, B, 784>` or `inputs: &(Matrix<…>, Matrix<…>)`.
    pub inputs: TokenStream,
    /// `x` or `inputs`: how one method passes its inputs to another.
    pub inputs_arg: TokenStream,
    /// `let (x1, x2) = (&inputs.0, &inputs.1);` (several inputs).
    pub inputs_prelude: TokenStream,
    /// `Y: Targets<T, B, 10> + ?Sized` or `Y0: …, Y1: …`.
    pub targets_generics: TokenStream,
    /// `y: &Y` or `y: (&Y0, &Y1)`.
    pub targets: TokenStream,
    /// `Y` or `Y0, Y1`: the targets' generic arguments.
    pub targets_args: TokenStream,
    /// `let (y_class, y_size) = y;` or `let labels = y;`.
    pub targets_prelude: TokenStream,
    /// `&'w Matrix<T, B, 10>` or `(&'w Matrix<…>, &'w Matrix<…>)`.
    pub outputs_ref: TokenStream,
    /// `Matrix<T, B, 10>` or `(Matrix<…>, Matrix<…>)`.
    pub outputs_owned: TokenStream,
    /// `Matrix<T, B, 784>` or `(Matrix<…>, Matrix<…>)`: the inputs' type.
    pub inputs_ty: TokenStream,
}

/// The signature pieces for `model`.
pub(super) fn signature(model: &Model) -> Signature {
    let rt = rt();
    let input_tys: Vec<TokenStream> = model
        .inputs
        .iter()
        .map(|&v| {
            let w = width_tokens(model, v);
            quote!(#rt::Matrix<T, B, #w>)
        })
        .collect();
    let input_idents: Vec<proc_macro2::Ident> = model
        .inputs
        .iter()
        .map(|&v| value_ident(model, v))
        .collect();
    let (inputs, inputs_arg, inputs_prelude, inputs_ty) = if input_tys.len() == 1 {
        let (x, ty) = (&input_idents[0], &input_tys[0]);
        let w = width_tokens(model, model.inputs[0]);
        (
            quote!(#x: &(impl #rt::InputRows<T, B, #w> + ?::core::marker::Sized)),
            quote!(#x),
            quote!(let #x: &#ty = #rt::InputRows::as_matrix(#x);),
            quote!(#ty),
        )
    } else {
        let indices = (0..input_tys.len()).map(syn::Index::from);
        (
            quote!(inputs: &(#(#input_tys,)*)),
            quote!(inputs),
            quote!(let (#(#input_idents,)*) = (#(&inputs.#indices,)*);),
            quote!((#(#input_tys,)*)),
        )
    };
    let output_tys: Vec<TokenStream> = model
        .outputs
        .iter()
        .map(|o| {
            let w = width_tokens(model, o.value);
            quote!(#rt::Matrix<T, B, #w>)
        })
        .collect();
    let (targets_generics, targets, targets_args, targets_prelude, outputs_ref, outputs_owned) =
        if model.outputs.len() == 1 {
            let w = width_tokens(model, model.outputs[0].value);
            let t = targets_ident(model, 0);
            let prelude = if t == "y" {
                TokenStream::new()
            } else {
                quote!(let #t = y;)
            };
            let ty = &output_tys[0];
            (
                quote!(Y: #rt::Targets<T, B, #w> + ?::core::marker::Sized),
                quote!(y: &Y),
                quote!(Y),
                prelude,
                quote!(&'w #ty),
                quote!(#ty),
            )
        } else {
            let ys: Vec<proc_macro2::Ident> = (0..model.outputs.len())
                .map(|k| format_ident!("Y{}", k))
                .collect();
            let bounds = model.outputs.iter().zip(&ys).map(|(o, yk)| {
                let w = width_tokens(model, o.value);
                quote!(#yk: #rt::Targets<T, B, #w> + ?::core::marker::Sized)
            });
            let ts: Vec<proc_macro2::Ident> = (0..model.outputs.len())
                .map(|k| targets_ident(model, k))
                .collect();
            (
                quote!(#(#bounds),*),
                quote!(y: (#(&#ys,)*)),
                quote!(#(#ys),*),
                quote!(let (#(#ts,)*) = y;),
                quote!((#(&'w #output_tys,)*)),
                quote!((#(#output_tys,)*)),
            )
        };
    Signature {
        inputs,
        inputs_arg,
        inputs_prelude,
        targets_generics,
        targets,
        targets_args,
        targets_prelude,
        outputs_ref,
        outputs_owned,
        inputs_ty,
    }
}

/// `forward_logits`, `forward_with`, `forward`, `loss_with`, `loss`.
pub(super) fn methods(model: &Model, names: &Names, options: Options) -> TokenStream {
    let rt = rt();
    let ws_ty = names.ws_ty();
    let sig = signature(model);
    let Signature {
        inputs,
        inputs_arg,
        inputs_prelude,
        targets_generics,
        targets,
        targets_args,
        targets_prelude,
        outputs_ref,
        outputs_owned,
        ..
    } = &sig;

    let pass_inline = super::pass_inline(model);
    let steps = logits_steps(model);
    let statements: Vec<TokenStream> = steps
        .iter()
        .map(|&s| step_statements(model, s, options))
        .collect();
    let bind = bind_workspace(
        names,
        model,
        &values_of(model, &steps),
        &[],
        &extra_buffers(model, &steps),
    );

    // forward_with: the logits, then the output activations of fused losses.
    let fused: Vec<usize> = (0..model.steps.len())
        .filter(|&s| is_fused_output_activation(model, s))
        .collect();
    let finish = if fused.is_empty() {
        TokenStream::new()
    } else {
        let bind = bind_workspace(names, model, &values_of(model, &fused), &[], &[]);
        let statements = fused.iter().map(|&s| step_statements(model, s, options));
        quote! {
            {
                #bind
                #(#statements)*
            }
        }
    };
    let outs: Vec<proc_macro2::Ident> = model
        .outputs
        .iter()
        .map(|o| value_ident(model, o.value))
        .collect();
    let (ret_ref, ret_owned) = if outs.len() == 1 {
        let o = &outs[0];
        (quote!(&ws.#o), quote!(ws.#o))
    } else {
        let mut seen = Vec::new();
        let owned: Vec<TokenStream> = outs
            .iter()
            .map(|o| {
                if seen.contains(o) {
                    quote!(::core::clone::Clone::clone(&ws.#o))
                } else {
                    seen.push(o.clone());
                    quote!(ws.#o)
                }
            })
            .collect();
        let refs = outs.iter().map(|o| quote!(&ws.#o));
        (quote!((#(#refs,)*)), quote!((#(#owned,)*)))
    };
    let loss_steps = logits_steps(model);
    let mut loss_bound = values_of(model, &loss_steps);
    for v in loss_values(model) {
        if !loss_bound.contains(&v) {
            loss_bound.push(v);
        }
    }
    let bind_loss = bind_workspace(names, model, &loss_values(model), &[], &[]);
    let loss = loss_statements(model, false);
    let penalties = penalty_statements(model, false);
    let ws_name = &names.ws;
    quote! {
        /// The forward pass up to the logits (all of it, except the output
        /// activations that a loss computes from the logits).
        #pass_inline
        #[allow(unused_doc_comments, unused_variables, clippy::all)]
        fn forward_logits<const B: ::core::primitive::usize>(
            &self,
            #inputs,
            ws: &mut #ws_ty,
        ) {
            #inputs_prelude
            #bind
            #(#statements)*
        }

        /// The forward pass over `B` rows into the workspace; returns the
        /// output (after the output activation).
        #[allow(unused_doc_comments, unused_variables, clippy::all)]
        pub fn forward_with<'w, const B: ::core::primitive::usize>(
            &self,
            #inputs,
            ws: &'w mut (impl #rt::WorkspaceOf<Self, B> + ?::core::marker::Sized),
        ) -> #outputs_ref {
            let ws = #rt::WorkspaceOf::<Self, B>::get(ws);
            self.forward_logits::<B>(#inputs_arg, ws);
            #finish
            #ret_ref
        }

        /// The output for `B` rows (allocates a workspace; see
        /// [`forward_with`](Self::forward_with) to reuse one).
        #[must_use]
        pub fn forward<const B: ::core::primitive::usize>(
            &self,
            #inputs,
        ) -> #outputs_owned {
            let mut ws = #ws_name::new();
            self.forward_with::<B>(#inputs_arg, &mut ws);
            #ret_owned
        }

        /// The loss over `B` rows into the workspace, without gradients.
        #[allow(unused_doc_comments, unused_variables, clippy::all)]
        pub fn loss_with<const B: ::core::primitive::usize, #targets_generics>(
            &self,
            #inputs,
            #targets,
            ws: &mut (impl #rt::WorkspaceOf<Self, B> + ?::core::marker::Sized),
        ) -> T {
            let ws = #rt::WorkspaceOf::<Self, B>::get(ws);
            self.forward_logits::<B>(#inputs_arg, ws);
            #targets_prelude
            #bind_loss
            #loss
            #penalties
            loss
        }

        /// The loss over `B` rows (allocates a workspace; see
        /// [`loss_with`](Self::loss_with) to reuse one).
        #[must_use]
        pub fn loss<const B: ::core::primitive::usize, #targets_generics>(
            &self,
            #inputs,
            #targets,
        ) -> T {
            let mut ws = #ws_name::new();
            self.loss_with::<B, #targets_args>(#inputs_arg, y, &mut ws)
        }
    }
}
