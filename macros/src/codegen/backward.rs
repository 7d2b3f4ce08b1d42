//! The backward pass: one statement per rule application, from the loss back
//! to the inputs, each tagged with its rule and shapes.
//!
//! Vocabulary of DESIGN.md §1: `dl_dz2` is the intermediate gradient
//! ∂l/∂z2, `dl_dw2` and `dl_db2` are final gradients (written straight into
//! the gradients struct), `z2`, `a1` the forward values.
//!
//! Backpropagation starts from ∂l/∂l = 1 and visits the steps in reverse. A
//! value that feeds several operations (a skip connection, a layer applied
//! twice, `x * x`) receives one contribution from each: by the sum rule its
//! gradient is their sum, so the first contribution (in reverse order) is
//! written and the others are added (`…_acc`). Gradients only needed for
//! `∂l/∂X` (values that no parameter influences) are computed only in
//! `backward_with_input_grads` (`if INPUT_GRADS { … }`, a constant the
//! compiler folds away in `backward`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::forward::{
    bind_workspace, extra_buffers, is_fused_output_activation, logits_steps, loss_statements,
    loss_values, penalty_statements, signature, values_of, weight_name, Signature,
};
use super::{
    grad_ident, rt, shape, shape2, unroll, value_ident, value_name, value_shape, Names, Options,
};
use crate::check::{Model, Step, ValueId};
use crate::ir::Form;
use crate::vocab::Activation;

/// Whether a contribution to a gradient writes it or adds to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Mode {
    /// The first contribution: overwrite.
    Write,
    /// A later one: add (the sum rule).
    Acc,
}

/// Which gradients have been written so far, in the order the backward pass
/// visits the steps.
pub(super) struct Plan {
    /// Per storage value: written yet?
    written: Vec<bool>,
    /// Per value: does some parameter influence it? (Only those gradients
    /// are needed for the parameters'.)
    param_dep: Vec<bool>,
    /// Per layer: has its parameters' gradient been written yet?
    layer_written: Vec<bool>,
}

/// Per value: does some parameter influence it? Only those values'
/// gradients are needed for the parameters' gradients.
pub(super) fn param_dependent(model: &Model) -> Vec<bool> {
    let mut param_dep = vec![false; model.values.len()];
    for step in &model.steps {
        let has_params = step
            .layer()
            .is_some_and(|l| model.layers[l].kind.has_params());
        let dep = has_params || step.inputs().iter().any(|v| param_dep[*v]);
        param_dep[step.output()] = dep;
    }
    param_dep
}

impl Plan {
    fn new(model: &Model) -> Self {
        let param_dep = param_dependent(model);
        Plan {
            written: vec![false; model.values.len()],
            param_dep,
            layer_written: vec![false; model.layers.len()],
        }
    }

    /// The mode of the next contribution to `value`'s gradient.
    pub fn contribute(&mut self, model: &Model, value: ValueId) -> Mode {
        let s = model.storage(value);
        if std::mem::replace(&mut self.written[s], true) {
            Mode::Acc
        } else {
            Mode::Write
        }
    }

    /// The mode of the next contribution to `layer`'s parameters' gradient.
    pub fn layer(&mut self, layer: usize) -> Mode {
        if std::mem::replace(&mut self.layer_written[layer], true) {
            Mode::Acc
        } else {
            Mode::Write
        }
    }

    /// Whether `value`'s gradient is only needed for `∂l/∂X`.
    pub fn input_only(&self, model: &Model, value: ValueId) -> bool {
        !self.param_dep[model.storage(value)]
    }
}

/// The storage values whose gradient lives in the workspace: every value
/// but the inputs (their gradients are `dl_dinputs`), except the outputs of
/// fused losses (the loss writes the logits' gradient).
pub(super) fn gradient_values(model: &Model) -> Vec<ValueId> {
    let fused: Vec<ValueId> = (0..model.steps.len())
        .filter(|&s| is_fused_output_activation(model, s))
        .map(|s| model.steps[s].output())
        .collect();
    (model.inputs.len()..model.values.len())
        .filter(|&v| model.storage(v) == v && !fused.contains(&v))
        .collect()
}

/// `contribution` to `value`'s gradient, in `if INPUT_GRADS { … }` when only
/// `∂l/∂X` needs it.
pub(super) fn guard(
    plan: &Plan,
    model: &Model,
    value: ValueId,
    contribution: TokenStream,
) -> TokenStream {
    if contribution.is_empty() {
        return contribution;
    }
    if plan.input_only(model, value) {
        quote! { if INPUT_GRADS { #contribution } }
    } else {
        contribution
    }
}

/// " (sum rule: added, `h` feeds several operations)" for accumulated
/// contributions.
pub(super) fn sum_rule(model: &Model, mode: Mode, value: ValueId) -> String {
    match mode {
        Mode::Write => String::new(),
        Mode::Acc => format!(
            "; sum rule: added to dl_d{}, which feeds several operations",
            model.values[model.storage(value)].name
        ),
    }
}

/// A tag whose gradient is added rather than written: `dl_dh += …`.
pub(super) fn accumulated(doc: String, mode: Mode) -> String {
    match mode {
        Mode::Write => doc,
        Mode::Acc => doc.replacen(" = ", " += ", 1),
    }
}

/// `_into` or `_acc`.
fn suffix(mode: Mode) -> &'static str {
    match mode {
        Mode::Write => "into",
        Mode::Acc => "acc",
    }
}

/// `f′` as written in the comments.
fn derivative_text(activation: Activation, z: &str, a: &str) -> String {
    match activation {
        Activation::Sigmoid => format!("σ′({z}) = {a}⊗(1 − {a})"),
        Activation::Tanh => format!("tanh′({z}) = 1 − {a}²"),
        Activation::Relu => format!("relu′({z}) = [{z} > 0]"),
        Activation::LeakyRelu => format!("leaky_relu′({z}) = [{z} > 0] + 0.01·[{z} ≤ 0]"),
        Activation::Identity | Activation::Softmax => "1".to_string(),
    }
}

/// The backward statements of step `index`.
fn step_backward(model: &Model, index: usize, plan: &mut Plan, options: Options) -> TokenStream {
    let rt = rt();
    match &model.steps[index] {
        Step::Activation {
            activation,
            input,
            output,
        } => {
            let mode = plan.contribute(model, *input);
            let (z, a) = (value_ident(model, *input), value_ident(model, *output));
            let (dz, da) = (grad_ident(model, *input), grad_ident(model, *output));
            let (zn, an) = (value_name(model, *input), value_name(model, *output));
            let statement = if *activation == Activation::Softmax {
                let doc = format!(
                    " softmax Jacobian: dl_d{zn} = {an} ⊗ (dl_d{an} − (dl_d{an}·{an})1), row by row (diag({an}) − {an}{an}ᵀ applied to dl_d{an})   {}{}",
                    value_shape(model, *input),
                    sum_rule(model, mode, *input)
                );
                let doc = accumulated(doc, mode);
                let f = format_ident!("softmax_backward_{}", suffix(mode));
                quote! { #[doc = #doc] #rt::#f(#a, #da, #dz); }
            } else {
                let doc = format!(
                    " rule 7: dl_d{zn} = dl_d{an} ⊗ {}   {}{}",
                    derivative_text(*activation, zn, an),
                    value_shape(model, *input),
                    sum_rule(model, mode, *input)
                );
                let doc = accumulated(doc, mode);
                let f = super::forward::activation_type(*activation);
                let call = format_ident!("rule7_activation_grad_{}", suffix(mode));
                quote! {
                    #[doc = #doc]
                    #rt::rules::#call::<#f, T, B, _>(#da, #z, #a, #dz);
                }
            };
            guard(plan, model, *input, statement)
        }
        Step::Dense {
            layer,
            input,
            output,
            junction,
        } => dense(
            model,
            plan,
            *layer,
            *input,
            *output,
            junction.as_deref(),
            options,
        ),
        Step::Add {
            lhs,
            rhs,
            output,
            junction,
        } => {
            let dc = grad_ident(model, *output);
            let cn = value_name(model, *output);
            let mut out = TokenStream::new();
            for (side, junction) in [(*lhs, None), (*rhs, junction.as_deref())] {
                let mode = plan.contribute(model, side);
                let d = grad_ident(model, side);
                let d = super::through_junction(quote!(#d), junction, true);
                let doc = format!(
                    " sum rule of `+`: dl_d{} = dl_d{cn} (the Jacobian of a sum is I)   {}{}",
                    value_name(model, side),
                    value_shape(model, side),
                    sum_rule(model, mode, side)
                );
                let doc = accumulated(doc, mode);
                let f = format_ident!("sum_grad_{}", suffix(mode));
                out.extend(guard(
                    plan,
                    model,
                    side,
                    quote! { #[doc = #doc] #rt::rules::#f(#dc, #d); },
                ));
            }
            out
        }
        Step::Mul {
            lhs,
            rhs,
            output,
            junction,
        } => {
            let dc = grad_ident(model, *output);
            let cn = value_name(model, *output);
            let mut out = TokenStream::new();
            let (l, r) = (value_ident(model, *lhs), value_ident(model, *rhs));
            let (dl, dr) = (grad_ident(model, *lhs), grad_ident(model, *rhs));
            let junction = junction.as_deref();
            // The right operand is read, and its gradient written, at the
            // product's width (the same width by another `const` name).
            let sides = [
                (
                    *lhs,
                    *rhs,
                    super::through_junction(quote!(#r), junction, false),
                    quote!(#dl),
                ),
                (
                    *rhs,
                    *lhs,
                    quote!(#l),
                    super::through_junction(quote!(#dr), junction, true),
                ),
            ];
            for (side, other, o, d) in sides {
                let mode = plan.contribute(model, side);
                let doc = format!(
                    " product rule (rule 7, f′ being the other factor): dl_d{} = dl_d{cn} ⊗ {}   {}{}",
                    value_name(model, side),
                    value_name(model, other),
                    value_shape(model, side),
                    sum_rule(model, mode, side)
                );
                let doc = accumulated(doc, mode);
                let f = format_ident!("product_grad_{}", suffix(mode));
                out.extend(guard(
                    plan,
                    model,
                    side,
                    quote! { #[doc = #doc] #rt::rules::#f(#dc, #o, #d); },
                ));
            }
            out
        }
        Step::Concat { inputs, output } => {
            let dc = grad_ident(model, *output);
            let cn = value_name(model, *output);
            let offsets = super::forward::concat_offsets(model, inputs);
            let mut out = TokenStream::new();
            // Reverse order of the parts, so that a part used twice is
            // written by its last use, as every other gradient.
            for (part, offset) in inputs.iter().zip(offsets).rev() {
                let mode = plan.contribute(model, *part);
                let d = grad_ident(model, *part);
                let doc = format!(
                    " concat: dl_d{} = columns {}.. of dl_d{cn} (the Jacobian of a concatenation selects them)   {}{}",
                    value_name(model, *part),
                    offset.text,
                    value_shape(model, *part),
                    sum_rule(model, mode, *part)
                );
                let doc = accumulated(doc, mode);
                let from = &offset.tokens;
                let f = format_ident!("take_{}", suffix(mode));
                out.extend(guard(
                    plan,
                    model,
                    *part,
                    quote! { #[doc = #doc] #rt::ops::Columns::<#from>::#f(#dc, #d); },
                ));
            }
            out
        }
        Step::LayerNorm {
            layer,
            input,
            output,
        } => {
            let field = &model.layers[*layer].name;
            let dy = grad_ident(model, *output);
            let on = &model.values[*output].name;
            let (x_hat, inv_std) = (
                format_ident!("{}_x_hat", on),
                format_ident!("{}_inv_std", on),
            );
            let param_mode = plan.layer(*layer);
            let accumulate = param_mode == Mode::Acc;
            let doc = format!(
                " layer norm `{field}`: dl_d{field}.weight = 1ᵀ·(dl_d{on} ⊗ x̂), dl_d{field}.bias = 1ᵀ·dl_d{on} (column sums)   [1×{n}]{}",
                if accumulate { "; sum rule: added, the layer is applied several times" } else { "" },
                n = model.width(*output).text()
            );
            let mut out = quote! {
                #[doc = #doc]
                #rt::LayerNorm::param_grads(#dy, #x_hat, &mut grads.#field, #accumulate);
            };
            let mode = plan.contribute(model, *input);
            let dx = grad_ident(model, *input);
            let accumulate = mode == Mode::Acc;
            let doc = format!(
                " layer norm `{field}`: dl_d{x} = inv_std ⊗ (g − mean(g) − x̂ ⊗ mean(g ⊗ x̂)), g = dl_d{on} ⊗ γ, per row   {}{}",
                value_shape(model, *input),
                sum_rule(model, mode, *input),
                x = value_name(model, *input),
            );
            let doc = accumulated(doc, mode);
            out.extend(guard(
                plan,
                model,
                *input,
                quote! { #[doc = #doc] self.#field.input_grad(#dy, #x_hat, #inv_std, #dx, #accumulate); },
            ));
            out
        }
        // The flat value's gradient is the image's: one buffer.
        Step::Flatten { .. } => TokenStream::new(),
        Step::Conv2d { .. } | Step::Pool { .. } | Step::GlobalAvgPool { .. } => {
            super::conv::backward(model, index, plan)
        }
    }
}

/// Rules 5 and 6 (and the bias) for a dense step.
fn dense(
    model: &Model,
    plan: &mut Plan,
    layer: usize,
    input: ValueId,
    output: ValueId,
    junction: Option<&crate::check::Junction>,
    options: Options,
) -> TokenStream {
    let rt = rt();
    let l = &model.layers[layer];
    let Some((i, o, bias)) = l.dense() else {
        return TokenStream::new();
    };
    let field = &l.name;
    let (x, dz) = (value_ident(model, input), grad_ident(model, output));
    let (xn, zn) = (value_name(model, input), value_name(model, output));
    let w = weight_name(model, layer);
    let param_mode = plan.layer(layer);
    let tied = if param_mode == Mode::Acc {
        "; sum rule: added, the layer is applied several times (tied weights)"
    } else {
        ""
    };
    let mut out = TokenStream::new();
    let small = (junction.is_none() && param_mode == Mode::Write && l.uses == 1)
        .then(|| unroll::dense_backward(model, layer, input, output, options))
        .flatten();
    let (dw_text, db_text) = match model.form {
        Form::Sequential => (format!("dl_dw{}", l.number), format!("dl_db{}", l.number)),
        Form::Graph => (format!("dl_d{field}.weight"), format!("dl_d{field}.bias")),
    };
    let w_doc = format!(
        " rule 5: {dw_text} = dl_d{zn}ᵀ·{xn}   {} = [{}×B]·{}{tied}",
        shape2(o, i),
        o.text(),
        shape("B", i)
    );
    let b_doc = format!(
        " bias: {db_text} = 1ᵀ·dl_d{zn} (column sums)   {} = [1×B]·{}{tied}",
        shape("1", o),
        shape("B", o)
    );
    let (dw, db) = match model.form {
        Form::Sequential => (
            format_ident!("dl_dw{}", l.number),
            format_ident!("dl_db{}", l.number),
        ),
        Form::Graph => (
            format_ident!("dl_d{}_weight", field),
            format_ident!("dl_d{}_bias", field),
        ),
    };
    if let Some(small) = &small {
        let tag = unroll::small_layer(model, layer, options).map_or("", |small| small.tag());
        let doc = if bias {
            format!("{w_doc}; {b_doc}   ({tag})")
        } else {
            format!("{w_doc}   ({tag})")
        };
        out.extend(quote! { #[doc = #doc] #small });
    } else {
        let x = super::through_junction(quote!(#x), junction, false);
        let rule5 = format_ident!("rule5_weight_grad_{}", suffix(param_mode));
        out.extend(quote! {
            #[doc = #w_doc]
            let #dw = &mut grads.#field.weight;
            #rt::rules::#rule5(#dz, #x, #dw);
        });
        if bias {
            let f = format_ident!("bias_grad_{}", suffix(param_mode));
            out.extend(quote! {
                #[doc = #b_doc]
                let #db = &mut grads.#field.bias;
                #rt::rules::#f(#dz, #db);
            });
        }
    }
    let mode = plan.contribute(model, input);
    let dx = grad_ident(model, input);
    let doc = format!(
        " rule 6: dl_d{xn} = dl_d{zn}·{w}   {} = {}·{}{}",
        shape("B", i),
        shape("B", o),
        shape2(o, i),
        sum_rule(model, mode, input)
    );
    let doc = accumulated(doc, mode);
    let statement = match (mode, junction) {
        (Mode::Write, None) => unroll::dense_input_grad(model, layer, input, output, options),
        _ => None,
    };
    let statement = match statement {
        Some(small) => {
            let tag = unroll::small_layer(model, layer, options).map_or("", |small| small.tag());
            let doc = format!("{doc}   ({tag})");
            quote! { #[doc = #doc] #small }
        }
        None => {
            let dx = super::through_junction(quote!(#dx), junction, true);
            let f = format_ident!("rule6_input_grad_{}", suffix(mode));
            quote! {
                #[doc = #doc]
                #rt::rules::#f(#dz, &self.#field.weight, #dx);
            }
        }
    };
    out.extend(guard(plan, model, input, statement));
    out
}

/// The input gradients' bindings: `let dl_dx = dl_dx;` for one input (a
/// workspace field), `let (dl_dx1, dl_dx2) = dl_dinputs;` for several.
fn input_grads_prelude(model: &Model) -> (Vec<proc_macro2::Ident>, TokenStream) {
    if model.inputs.len() == 1 {
        (vec![grad_ident(model, model.inputs[0])], TokenStream::new())
    } else {
        let names: Vec<proc_macro2::Ident> =
            model.inputs.iter().map(|&v| grad_ident(model, v)).collect();
        (
            vec![format_ident!("dl_dinputs")],
            quote!(let (#(#names,)*) = dl_dinputs;),
        )
    }
}

/// `backward_pass` and the public `backward`, `backward_with_input_grads`.
pub(super) fn methods(model: &Model, names: &Names, options: Options) -> TokenStream {
    let rt = rt();
    let (ws_ty, grads_ty) = (names.ws_ty(), names.grads_ty());
    let Signature {
        inputs,
        inputs_arg,
        inputs_prelude,
        targets_generics,
        targets,
        targets_args,
        targets_prelude,
        ..
    } = signature(model);

    let mut plan = Plan::new(model);
    // The losses write their outputs' (or logits') gradients first.
    for output in &model.outputs {
        plan.contribute(model, output.loss.logits.unwrap_or(output.value));
    }
    let mut statements = vec![loss_statements(model, true)];
    for index in (0..model.steps.len()).rev() {
        if is_fused_output_activation(model, index) {
            continue;
        }
        statements.push(step_backward(model, index, &mut plan, options));
    }
    statements.push(penalty_statements(model, true));

    let steps = logits_steps(model);
    let mut values = values_of(model, &steps);
    for v in loss_values(model) {
        if !values.contains(&v) {
            values.push(v);
        }
    }
    values.sort_unstable();
    let (mut extra, input_grads) = input_grads_prelude(model);
    extra.extend(extra_buffers(model, &steps));
    let bind = bind_workspace(names, model, &values, &gradient_values(model), &extra);
    let pass_inline = super::pass_inline(model);
    quote! {
        /// Forward, loss and backward over `B` rows: returns the loss and
        /// overwrites `grads`; with `INPUT_GRADS`, also `∂l/∂X` into the
        /// workspace. Allocates nothing.
        #pass_inline
        #[allow(unused_doc_comments, unused_variables, clippy::all)]
        fn backward_pass<const B: ::core::primitive::usize, const INPUT_GRADS: ::core::primitive::bool, #targets_generics>(
            &self,
            #inputs,
            #targets,
            grads: &mut #grads_ty,
            ws: &mut #ws_ty,
        ) -> T {
            self.forward_logits::<B>(#inputs_arg, ws);
            #inputs_prelude
            #targets_prelude
            #bind
            #input_grads
            #(#statements)*
            loss
        }

        /// Forward, loss and backward over `B` rows: returns the loss and
        /// overwrites `grads` with its gradient. Allocates nothing.
        pub fn backward<const B: ::core::primitive::usize, #targets_generics>(
            &self,
            #inputs,
            #targets,
            grads: &mut #grads_ty,
            ws: &mut (impl #rt::WorkspaceOf<Self, B> + ?::core::marker::Sized),
        ) -> T {
            let ws = #rt::WorkspaceOf::<Self, B>::get(ws);
            self.backward_pass::<B, false, #targets_args>(#inputs_arg, y, grads, ws)
        }

        /// [`backward`](Self::backward), and the gradient of the loss with
        /// respect to the inputs, `∂l/∂X`, left in the workspace
        /// (`ws.dl_d…`). Allocates nothing.
        pub fn backward_with_input_grads<const B: ::core::primitive::usize, #targets_generics>(
            &self,
            #inputs,
            #targets,
            grads: &mut #grads_ty,
            ws: &mut (impl #rt::WorkspaceOf<Self, B> + ?::core::marker::Sized),
        ) -> T {
            let ws = #rt::WorkspaceOf::<Self, B>::get(ws);
            self.backward_pass::<B, true, #targets_args>(#inputs_arg, y, grads, ws)
        }
    }
}
