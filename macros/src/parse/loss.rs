//! The loss entry: `loss: cross_entropy` in the sequential form, or a
//! weighted sum of terms, `loss: cross_entropy(class) + 0.5 * mse(size) +
//! 0.01 * l2(trunk.weight)`.
//!
//! The entry is read as a Rust expression (so spans and error positions are
//! syn's) and then as a sum of terms. Whether a name is a loss or a penalty,
//! and what its arguments name, is decided by the check stage.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Ident, Lit};

/// The loss as written: a sum of terms.
pub struct LossExpr {
    /// The terms, in order.
    pub terms: Vec<LossTerm>,
}

/// `WEIGHT * name(args)` or `name(args)` or `name`.
pub struct LossTerm {
    /// The factor in front, when given.
    pub weight: Option<Weight>,
    /// The loss or penalty's name: `cross_entropy`, `mse`, `l2`, …
    pub name: Ident,
    /// The arguments in parentheses; `None` without parentheses.
    pub args: Option<Vec<LossArg>>,
    /// The whole term (for errors about it).
    pub span: Span,
}

/// A positive finite factor of a term.
pub struct Weight {
    /// Its value.
    pub value: f64,
    /// The literal as written (for messages and comments).
    pub text: String,
}

/// An argument of a term: an output or a target (`class`), or a parameter
/// tensor (`trunk.weight`).
pub enum LossArg {
    /// `name`.
    Name(Ident),
    /// `layer.tensor`.
    Tensor {
        /// The layer's name.
        layer: Ident,
        /// `weight` or `bias`.
        tensor: Ident,
    },
}

impl LossArg {
    /// The span of the whole argument.
    pub fn span(&self) -> Span {
        match self {
            LossArg::Name(name) => name.span(),
            LossArg::Tensor { layer, tensor } => {
                layer.span().join(tensor.span()).unwrap_or(layer.span())
            }
        }
    }
}

const SHAPE: &str = "a loss is a loss name (`cross_entropy`), or a sum of terms such as `cross_entropy(class) + 0.5 * mse(size) + 0.01 * l2(trunk.weight)`";

impl Parse for LossExpr {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected a loss after `loss:`: sse, mse, binary_cross_entropy or cross_entropy",
            ));
        }
        let expr: Expr = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), SHAPE))?;
        if !input.is_empty() {
            return Err(input
                .error("unexpected tokens after the loss: the loss entry ends at the next comma"));
        }
        let mut terms = Vec::new();
        collect_terms(&expr, &mut terms)?;
        Ok(LossExpr { terms })
    }
}

/// Adds the terms of a `+` chain to `terms`.
fn collect_terms(expr: &Expr, terms: &mut Vec<LossTerm>) -> syn::Result<()> {
    match expr {
        Expr::Binary(binary) if matches!(binary.op, BinOp::Add(_)) => {
            collect_terms(&binary.left, terms)?;
            collect_terms(&binary.right, terms)
        }
        Expr::Binary(binary) if matches!(binary.op, BinOp::Sub(_)) => Err(syn::Error::new(
            binary.op.span(),
            "a loss term cannot be subtracted: every term of the loss is added with a positive weight",
        )),
        Expr::Paren(paren) => collect_terms(&paren.expr, terms),
        Expr::Binary(binary) if matches!(binary.op, BinOp::Mul(_)) => {
            let (weight, term) = match (weight_of(&binary.left), weight_of(&binary.right)) {
                (Some(weight), None) => (weight?, &binary.right),
                (None, Some(weight)) => (weight?, &binary.left),
                _ => {
                    return Err(syn::Error::new(
                        binary.op.span(),
                        "a loss term is weighted by a number: `0.5 * mse(size)`",
                    ))
                }
            };
            let mut term = single_term(term)?;
            term.weight = Some(weight);
            term.span = expr.span();
            terms.push(term);
            Ok(())
        }
        _ => {
            terms.push(single_term(expr)?);
            Ok(())
        }
    }
}

/// The weight of a number literal, `None` when `expr` is not one.
fn weight_of(expr: &Expr) -> Option<syn::Result<Weight>> {
    let (lit, negative) = match expr {
        Expr::Lit(lit) => (&lit.lit, false),
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(lit) => (&lit.lit, true),
            _ => return None,
        },
        _ => return None,
    };
    let span = expr.span();
    let (value, text) = match lit {
        Lit::Float(f) => (f.base10_parse::<f64>(), f.base10_digits().to_string()),
        Lit::Int(i) => (i.base10_parse::<f64>(), i.base10_digits().to_string()),
        _ => return None,
    };
    Some(match value {
        Ok(v) if !negative && v.is_finite() && v > 0.0 => Ok(Weight { value: v, text }),
        Ok(_) => Err(syn::Error::new(
            span,
            format!(
                "the weight of a loss term must be a positive number, not `{}{text}`",
                if negative { "-" } else { "" }
            ),
        )),
        Err(e) => Err(syn::Error::new(span, format!("not a number: {e}"))),
    })
}

/// `name` or `name(args)`.
fn single_term(expr: &Expr) -> syn::Result<LossTerm> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => {
            let name = path
                .path
                .get_ident()
                .cloned()
                .ok_or_else(|| syn::Error::new(path.span(), SHAPE))?;
            Ok(LossTerm {
                weight: None,
                name,
                args: None,
                span: expr.span(),
            })
        }
        Expr::Call(call) => {
            let name = match &*call.func {
                Expr::Path(path) if path.qself.is_none() => path.path.get_ident().cloned(),
                _ => None,
            }
            .ok_or_else(|| syn::Error::new(call.func.span(), SHAPE))?;
            let args = call
                .args
                .iter()
                .map(argument)
                .collect::<syn::Result<Vec<_>>>()?;
            Ok(LossTerm {
                weight: None,
                name,
                args: Some(args),
                span: expr.span(),
            })
        }
        Expr::Lit(_) => Err(syn::Error::new(
            expr.span(),
            "a number alone is not a loss term: weight a term with it, `0.5 * mse(size)`",
        )),
        _ => Err(syn::Error::new(expr.span(), SHAPE)),
    }
}

/// `name` or `layer.tensor`.
fn argument(expr: &Expr) -> syn::Result<LossArg> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .cloned()
            .map(LossArg::Name)
            .ok_or_else(|| {
                syn::Error::new(
                    path.span(),
                    "expected a name: an output of `forward`, or a parameter `layer.weight`",
                )
            }),
        Expr::Field(field) => {
            let layer = match &*field.base {
                Expr::Path(path) if path.qself.is_none() => path.path.get_ident().cloned(),
                _ => None,
            };
            let tensor = match &field.member {
                syn::Member::Named(ident) => Some(ident.clone()),
                syn::Member::Unnamed(_) => None,
            };
            match (layer, tensor) {
                (Some(layer), Some(tensor)) => Ok(LossArg::Tensor { layer, tensor }),
                _ => Err(syn::Error::new(
                    field.span(),
                    "expected a parameter tensor `layer.weight` or `layer.bias`",
                )),
            }
        }
        _ => Err(syn::Error::new(
            expr.span(),
            "expected a name: an output of `forward`, or a parameter `layer.weight`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<LossExpr> {
        syn::parse2(tokens)
    }

    #[test]
    fn a_bare_name_is_one_term() {
        let loss = parse(quote!(cross_entropy)).expect("parses"); // ok: test-only
        assert_eq!(loss.terms.len(), 1);
        assert_eq!(loss.terms[0].name, "cross_entropy");
        assert!(loss.terms[0].args.is_none());
        assert!(loss.terms[0].weight.is_none());
    }

    #[test]
    fn a_weighted_sum_with_a_penalty() {
        let loss = parse(quote!(
            cross_entropy(class, labels) + 0.5 * mse(size) + l2(trunk.weight, head.bias) * 1e-2
        ))
        .expect("parses"); // ok: test-only
        let names: Vec<String> = loss.terms.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["cross_entropy", "mse", "l2"]);
        assert_eq!(loss.terms[1].weight.as_ref().map(|w| w.value), Some(0.5));
        assert_eq!(loss.terms[2].weight.as_ref().map(|w| w.value), Some(0.01));
        let args = loss.terms[2].args.as_ref().expect("args"); // ok: test-only
        assert!(
            matches!(&args[0], LossArg::Tensor { layer, tensor } if layer == "trunk" && tensor == "weight")
        );
        assert_eq!(loss.terms[0].args.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn bad_weights_and_shapes_are_errors() {
        let err = |t| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(quote!(-0.5 * mse)).contains("positive number"));
        assert!(err(quote!(0 * mse)).contains("positive number"));
        assert!(err(quote!(mse - l2(a.weight))).contains("cannot be subtracted"));
        assert!(err(quote!(mse * sse)).contains("weighted by a number"));
        assert!(err(quote!(0.5)).contains("a number alone"));
        assert!(err(quote!(mse(a.0))).contains("parameter tensor"));
    }
}
