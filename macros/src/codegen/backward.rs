//! The backward pass: one statement per rule application, from the loss back
//! to the first layer, each tagged with its rule and shapes.
//!
//! Vocabulary of DESIGN.md §1: `dl_dz2` is the intermediate gradient
//! ∂l/∂z2, `dl_dw2` and `dl_db2` are final gradients (written straight into
//! the gradients struct, overwriting it), `z2`, `a1` the forward values.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::forward::{
    bind_workspace, is_fused_output_activation, logits_steps, loss_statement, loss_values,
};
use super::{grad_ident, rt, shape, shape2, unroll, value_ident, Names, Options};
use crate::check::{Model, Step, ValueId};
use crate::vocab::{Activation, LayerKind};

/// The values whose gradient the backward pass needs: every value but `x`,
/// except the output of a fused loss (the loss writes the logits' gradient).
pub(super) fn gradient_values(model: &Model) -> Vec<ValueId> {
    (1..model.values.len())
        .filter(|&v| !(model.loss.logits.is_some() && v == model.output))
        .collect()
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

/// The backward statements of one step.
fn step_backward(model: &Model, step: &Step, options: Options) -> TokenStream {
    let rt = rt();
    match step {
        Step::Activation {
            activation,
            input,
            output,
        } => {
            let (z, a) = (value_ident(model, *input), value_ident(model, *output));
            let (dz, da) = (grad_ident(model, *input), grad_ident(model, *output));
            let (zn, an) = (&model.values[*input].name, &model.values[*output].name);
            let width = &model.values[*input].width;
            let doc = format!(
                " rule 7: dl_d{zn} = dl_d{an} ⊗ {}   {}",
                derivative_text(*activation, zn, an),
                shape("B", width)
            );
            if let Some(unrolled) =
                unroll::activation_backward(model, *activation, *input, *output, options)
            {
                let doc = format!("{doc}   (unrolled)");
                return quote! { #[doc = #doc] #unrolled };
            }
            let f = super::forward::activation_type(*activation);
            quote! {
                #[doc = #doc]
                #rt::rules::rule7_activation_grad_into::<#f, T, B, _>(#da, #z, #a, #dz);
            }
        }
        Step::Dense {
            layer,
            input,
            output,
            junction,
        } => {
            let l = &model.layers[*layer];
            let k = l.number;
            let field = &l.name;
            let (x, dz) = (value_ident(model, *input), grad_ident(model, *output));
            let (xn, zn) = (&model.values[*input].name, &model.values[*output].name);
            let dw = format_ident!("dl_dw{}", k);
            let db = format_ident!("dl_db{}", k);
            let (i, o) = (&l.inputs, &l.outputs);
            let mut out = TokenStream::new();
            let unrolled = junction
                .is_none()
                .then(|| unroll::dense_backward(model, *layer, *input, *output, options))
                .flatten();
            let w_doc = format!(
                " rule 5: dl_dw{k} = dl_d{zn}ᵀ·{xn}   {} = [{}×B]·{}",
                shape2(o, i),
                o.text(),
                shape("B", i)
            );
            let b_doc = format!(
                " bias: dl_db{k} = 1ᵀ·dl_d{zn} (column sums)   {} = [1×B]·{}",
                shape("1", o),
                shape("B", o)
            );
            if let Some(unrolled) = &unrolled {
                let doc = if l.kind == LayerKind::Dense {
                    format!("{w_doc}; {b_doc}   (unrolled)")
                } else {
                    format!("{w_doc}   (unrolled)")
                };
                out.extend(quote! { #[doc = #doc] #unrolled });
            } else {
                let x = super::through_junction(quote!(#x), junction.as_deref(), false);
                out.extend(quote! {
                    #[doc = #w_doc]
                    let #dw = &mut grads.#field.weight;
                    #rt::rules::rule5_weight_grad_into(#dz, #x, #dw);
                });
                if l.kind == LayerKind::Dense {
                    out.extend(quote! {
                        #[doc = #b_doc]
                        let #db = &mut grads.#field.bias;
                        #rt::rules::bias_grad_into(#dz, #db);
                    });
                }
            }
            if *input != 0 {
                let dx = grad_ident(model, *input);
                let doc = format!(
                    " rule 6: dl_d{xn} = dl_d{zn}·W{k}   {} = {}·{}",
                    shape("B", i),
                    shape("B", o),
                    shape2(o, i)
                );
                if let Some(unrolled) =
                    unroll::dense_input_grad(model, *layer, *input, *output, options)
                {
                    let doc = format!("{doc}   (unrolled)");
                    out.extend(quote! { #[doc = #doc] #unrolled });
                } else {
                    let dx = super::through_junction(quote!(#dx), junction.as_deref(), true);
                    out.extend(quote! {
                        #[doc = #doc]
                        #rt::rules::rule6_input_grad_into(#dz, &self.#field.weight, #dx);
                    });
                }
            }
            out
        }
    }
}

/// The `backward` method.
pub(super) fn method(model: &Model, names: &Names, options: Options) -> TokenStream {
    let rt = rt();
    let (ws_ty, grads_ty) = (names.ws_ty(), names.grads_ty());
    let input_width = &model.values[0].width;
    let output_width = &model.values[model.output].width;

    let mut statements = vec![loss_statement(model, true)];
    for step in model.steps.iter().rev() {
        if is_fused_output_activation(model, step) {
            continue;
        }
        statements.push(step_backward(model, step, options));
    }
    let mut values = super::forward::values_of(&logits_steps(model));
    for v in loss_values(model) {
        if !values.contains(&v) {
            values.push(v);
        }
    }
    values.sort_unstable();
    let bind = bind_workspace(names, model, &values, &gradient_values(model));
    quote! {
        /// Forward, loss and backward over `B` rows: returns the loss and
        /// overwrites `grads` with its gradient. Allocates nothing.
        #[allow(unused_doc_comments, unused_variables, clippy::all)]
        pub fn backward<const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
            &self,
            x: &#rt::Matrix<T, B, #input_width>,
            y: &Y,
            grads: &mut #grads_ty,
            ws: &mut #ws_ty,
        ) -> T {
            self.forward_logits::<B>(x, ws);
            #bind
            #(#statements)*
            loss
        }
    }
}
