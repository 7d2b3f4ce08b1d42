//! `fn forward(x: [64]) -> [10] { … }`: the graph form's signature and body.
//!
//! Inputs and outputs carry their per-sample shapes in brackets (`[64]`, or
//! `[1, 28, 28]` for an image); several outputs are named,
//! `-> (class: [10], size: [1])`. The body is ordinary Rust syntax (`let`
//! bindings and a tail expression), read by syn and interpreted by the
//! lowering stage: only layer applications, activations, `+`, `*` and
//! `concat(…)` / `flatten(…)` have a meaning there.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token};

use super::{parse_bracketed_dims, Dim};

/// The `fn forward` of the graph form.
pub struct ForwardDecl {
    /// The `fn` keyword's span.
    pub fn_span: Span,
    /// The inputs in order.
    pub inputs: Vec<Port>,
    /// The outputs in order (one unnamed output for `-> [N]`).
    pub outputs: Vec<Port>,
    /// The body.
    pub body: syn::Block,
}

/// An input or output: `x: [64]`, `class: [10]` or `[10]`.
pub struct Port {
    /// The name, `None` for a single unnamed output.
    pub name: Option<Ident>,
    /// The per-sample shape.
    pub dims: Vec<Dim>,
    /// The span of the shape's brackets.
    pub span: Span,
}

impl Parse for ForwardDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let fn_token: Token![fn] = input.parse()?;
        let name: Ident = input.parse()?;
        if name != "forward" {
            return Err(syn::Error::new(
                name.span(),
                format!("the graph of a network is declared in `fn forward`, not `fn {name}`"),
            ));
        }
        let content;
        syn::parenthesized!(content in input);
        let mut inputs = Vec::new();
        while !content.is_empty() {
            inputs.push(named_port(&content, "input")?);
            if content.is_empty() {
                break;
            }
            let _: Token![,] = content.parse()?;
        }
        if !input.peek(Token![->]) {
            return Err(syn::Error::new(
                name.span(),
                "declare the shape of the output after the inputs: `fn forward(x: [64]) -> [10]`, or `-> (class: [10], size: [1])` for several",
            ));
        }
        let _: Token![->] = input.parse()?;
        let outputs = if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let mut outputs = Vec::new();
            while !content.is_empty() {
                outputs.push(named_port(&content, "output")?);
                if content.is_empty() {
                    break;
                }
                let _: Token![,] = content.parse()?;
            }
            if outputs.is_empty() {
                return Err(syn::Error::new(
                    paren.span.join(),
                    "a network has at least one output: `-> [10]`",
                ));
            }
            outputs
        } else if input.peek(syn::token::Bracket) {
            let (dims, span) = parse_bracketed_dims(input)?;
            vec![Port {
                name: None,
                dims,
                span,
            }]
        } else {
            return Err(input.error(
                "expected the output's shape: `-> [10]`, or `-> (class: [10], size: [1])` for several outputs",
            ));
        };
        let body: syn::Block = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the body of `fn forward`"));
        }
        Ok(ForwardDecl {
            fn_span: fn_token.span,
            inputs,
            outputs,
            body,
        })
    }
}

/// `name: [dims]`.
fn named_port(input: ParseStream, what: &str) -> syn::Result<Port> {
    let name: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected an {what} `name: [N]` (or `name: [C, H, W]` for an image)"),
        )
    })?;
    let _: Token![:] = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `:` and the shape after the {what} `{name}`: `{name}: [N]`"),
        )
    })?;
    if !input.peek(syn::token::Bracket) {
        return Err(input.error(format!(
            "expected the shape of `{name}` in brackets: `{name}: [N]`, or `{name}: [C, H, W]` for an image"
        )));
    }
    let (dims, span) = parse_bracketed_dims(input)?;
    Ok(Port {
        name: Some(name),
        dims,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn one_input_one_output() {
        let f: ForwardDecl = syn::parse2(quote! {
            fn forward(x: [64]) -> [10] {
                let h = relu(first(x));
                softmax(second(h) + shortcut(x))
            }
        })
        .expect("parses"); // ok: test-only
        assert_eq!(f.inputs.len(), 1);
        assert_eq!(f.outputs.len(), 1);
        assert!(f.outputs[0].name.is_none());
        assert_eq!(f.body.stmts.len(), 2);
    }

    #[test]
    fn several_inputs_and_named_outputs() {
        let f: ForwardDecl = syn::parse2(quote! {
            fn forward(x1: [3], image: [1, 8, 8]) -> (class: [10], size: [1]) {
                (a(x1), b(image))
            }
        })
        .expect("parses"); // ok: test-only
        assert_eq!(f.inputs.len(), 2);
        assert_eq!(f.inputs[1].dims.len(), 3);
        let names: Vec<String> = f
            .outputs
            .iter()
            .map(|o| o.name.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect();
        assert_eq!(names, ["class", "size"]);
    }

    #[test]
    fn mistakes_in_the_signature() {
        let err = |t| {
            syn::parse2::<ForwardDecl>(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(quote!(fn go(x: [1]) -> [1] { x })).contains("`fn forward`"));
        assert!(err(quote!(fn forward(x: [1]) { x })).contains("declare the shape of the output"));
        assert!(err(quote!(fn forward(x: 1) -> [1] { x })).contains("in brackets"));
        assert!(err(quote!(fn forward(x: []) -> [1] { x })).contains("at least one dimension"));
    }
}
