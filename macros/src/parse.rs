//! Stage 1, parse: the tokens of a `network!` invocation into a syntax tree
//! that keeps every user token (for spans).
//!
//! The body is split into entries at top-level commas first and each entry
//! is parsed on its own, so one malformed entry does not hide the mistakes in
//! the others: every syntax error is collected.
//!
//! Names are not resolved here (`Dense`, `relu`, `cross_entropy` are plain
//! identifiers): resolution, with "did you mean", is the check stage's job.

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Generics, Ident, LitInt, Token, Visibility};

/// A whole invocation: `#[attrs] vis struct Name<generics> { entries }`.
pub struct NetworkDef {
    /// Attributes and doc comments of the struct, passed through.
    pub attrs: Vec<Attribute>,
    /// The struct's visibility, passed through.
    pub vis: Visibility,
    /// The network's name.
    pub ident: Ident,
    /// The user's generic parameters (only `const N: usize` ones are valid).
    pub generics: Generics,
    /// The span of the closing brace (for "missing loss").
    pub brace_span: Span,
    /// The entries in order; those that failed to parse are left out and
    /// their errors are in `errors`.
    pub entries: Vec<Entry>,
    /// Syntax errors of individual entries.
    pub errors: Vec<syn::Error>,
    /// `#[chainrule(unroll = N)]`: unroll dense layers of at most `N`
    /// weights (0: never), instead of the measured default.
    pub unroll: Option<usize>,
}

/// One comma-separated entry of the body.
pub enum Entry {
    /// An entry that did not parse (its error is in
    /// [`NetworkDef::errors`]): shapes are not compared across it.
    Invalid,
    /// `name: Kind<dims> => activation`.
    Layer(LayerDecl),
    /// `loss: name`.
    Loss(LossDecl),
}

/// `#[attrs] name: Kind<IN, OUT> => activation`.
pub struct LayerDecl {
    /// Doc comments and attributes of the layer, passed to its field.
    pub attrs: Vec<Attribute>,
    /// The layer's (field) name.
    pub name: Ident,
    /// The layer kind as written (`Dense`, `DenseNoBias`, or a typo).
    pub kind: Ident,
    /// The dimensions inside `<…>`, `None` when there are no angle brackets.
    pub dims: Option<Vec<Dim>>,
    /// The activation after `=>`, `None` when omitted (identity).
    pub activation: Option<Ident>,
}

/// `loss: name`.
pub struct LossDecl {
    /// The `loss` keyword-like identifier.
    pub key: Ident,
    /// The loss function's name as written.
    pub name: Ident,
}

/// A dimension as written.
#[derive(Clone)]
pub enum Dim {
    /// An integer literal, `128`.
    Lit(LitInt),
    /// A path: a `const` item or a const generic parameter, `HIDDEN`.
    Path(syn::Path),
    /// A braced constant expression, `{ 2 * H }`.
    Block(syn::ExprBlock),
    /// A negative literal, `-8`: always an error, reported by the check
    /// stage with the layer's name.
    Neg(Token![-], LitInt),
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let mut unroll = None;
        let mut errors = Vec::new();
        attrs.retain(|attr| {
            if !attr.path().is_ident("chainrule") {
                return true;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("unroll") {
                    let value: LitInt = meta.value()?.parse()?;
                    unroll = Some(value.base10_parse::<usize>()?);
                    Ok(())
                } else {
                    Err(meta.error("unknown setting: the only one is `#[chainrule(unroll = N)]`, unroll dense layers of at most N weights (0: never)"))
                }
            });
            if let Err(err) = parsed {
                errors.push(err);
            }
            false
        });
        let vis: Visibility = input.parse()?;
        let _: Token![struct] = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct`: a network is declared as `struct Name { layer: Dense<IN, OUT> => activation, …, loss: NAME }`",
            )
        })?;
        let ident: Ident = input.parse()?;
        let mut generics: Generics = input.parse()?;
        generics.where_clause = input.parse()?;
        let body;
        let brace = syn::braced!(body in input);
        let tokens: TokenStream = body.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's body"));
        }
        let mut entries = Vec::new();
        for piece in split_entries(tokens) {
            match syn::parse2::<Entry>(piece) {
                Ok(entry) => entries.push(entry),
                Err(err) => {
                    entries.push(Entry::Invalid);
                    errors.push(err);
                }
            }
        }
        Ok(NetworkDef {
            attrs,
            vis,
            ident,
            generics,
            brace_span: brace.span.close(),
            entries,
            errors,
            unroll,
        })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name: Ident = input.call(syn::ext::IdentExt::parse_any).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a layer `name: Dense<IN, OUT> => activation` or the loss `loss: NAME`",
            )
        })?;
        let colon: syn::Result<Token![:]> = input.parse();
        if colon.is_err() {
            let span = if input.is_empty() {
                name.span()
            } else {
                input.span()
            };
            return Err(syn::Error::new(
                span,
                format!(
                    "expected `:` after `{name}`: write `{name}: Dense<IN, OUT> => activation`"
                ),
            ));
        }
        let kind: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected a layer kind after `{name}:`, e.g. `Dense<IN, OUT>`"),
            )
        })?;
        let dims = if input.peek(Token![<]) {
            Some(parse_dims(input)?)
        } else {
            None
        };
        let activation = if input.peek(Token![=>]) {
            let arrow: Token![=>] = input.parse()?;
            let act: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    if input.is_empty() {
                        arrow.spans[1]
                    } else {
                        e.span()
                    },
                    "expected an activation after `=>`: identity, sigmoid, tanh, relu, leaky_relu or softmax",
                )
            })?;
            Some(act)
        } else {
            None
        };
        if input.peek(Ident) && input.peek2(Token![:]) {
            return Err(
                input.error("missing `,` before this entry: entries are separated by commas")
            );
        }
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens: an entry is `name: Dense<IN, OUT> => activation` or `loss: NAME`, separated by commas",
            ));
        }
        if name == "loss" && dims.is_none() && activation.is_none() && attrs.is_empty() {
            return Ok(Entry::Loss(LossDecl {
                key: name,
                name: kind,
            }));
        }
        Ok(Entry::Layer(LayerDecl {
            attrs,
            name,
            kind,
            dims,
            activation,
        }))
    }
}

/// `<d1, d2, …>`, leniently: any number of dimensions (the check stage wants
/// exactly two and says so).
fn parse_dims(input: ParseStream) -> syn::Result<Vec<Dim>> {
    let _: Token![<] = input.parse()?;
    let mut dims = Vec::new();
    loop {
        if input.peek(Token![>]) {
            let _: Token![>] = input.parse()?;
            return Ok(dims);
        }
        dims.push(input.parse()?);
        if input.peek(Token![,]) {
            let _: Token![,] = input.parse()?;
        } else if !input.peek(Token![>]) {
            return Err(input.error("expected `,` or `>` in the dimensions `<IN, OUT>`"));
        }
    }
}

impl Parse for Dim {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![-]) && input.peek2(LitInt) {
            Ok(Dim::Neg(input.parse()?, input.parse()?))
        } else if input.peek(LitInt) {
            Ok(Dim::Lit(input.parse()?))
        } else if input.peek(syn::token::Brace) {
            let block: syn::ExprBlock = input.parse()?;
            // `{ H }` is the same constant as `H`.
            if let [syn::Stmt::Expr(syn::Expr::Path(path), None)] = block.block.stmts.as_slice() {
                if path.qself.is_none() && path.attrs.is_empty() {
                    return Ok(Dim::Path(path.path.clone()));
                }
            }
            Ok(Dim::Block(block))
        } else if input.peek(Ident) || input.peek(Token![::]) || input.peek(Token![crate]) {
            Ok(Dim::Path(input.parse()?))
        } else {
            Err(input.error(
                "expected a dimension: an integer literal, a `const` item, a const generic parameter or a `{ … }` constant expression",
            ))
        }
    }
}

impl Dim {
    /// The span of the dimension's first token.
    pub fn span(&self) -> Span {
        match self {
            Dim::Lit(lit) => lit.span(),
            Dim::Path(path) => syn::spanned::Spanned::span(path),
            Dim::Block(block) => syn::spanned::Spanned::span(block),
            Dim::Neg(minus, _) => minus.span,
        }
    }

    /// The value of a literal, `None` for a named dimension (or a literal
    /// too large for `usize`, which the check stage reports).
    pub fn literal_value(&self) -> Option<syn::Result<usize>> {
        match self {
            Dim::Lit(lit) => Some(lit.base10_parse::<usize>()),
            _ => None,
        }
    }

    /// The dimension as the user wrote it, whitespace-normalised: `128`,
    /// `HIDDEN`, `{ 2 * H }`. Two named dimensions with the same text are the
    /// same constant.
    pub fn text(&self) -> String {
        match self {
            Dim::Lit(lit) => lit
                .base10_parse::<usize>()
                .map(|v| v.to_string())
                .unwrap_or_else(|_| lit.to_string()),
            Dim::Path(path) => token_text(&quote::quote!(#path)),
            Dim::Block(block) => token_text(&quote::quote!(#block)),
            Dim::Neg(_, lit) => format!("-{lit}"),
        }
    }
}

impl quote::ToTokens for Dim {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Dim::Lit(lit) => {
                // Unsuffixed, so `784usize` and `784` generate the same code.
                let mut plain = proc_macro2::Literal::usize_unsuffixed(
                    lit.base10_parse::<usize>().unwrap_or(0),
                );
                plain.set_span(lit.span());
                tokens.extend([TokenTree::Literal(plain)]);
            }
            Dim::Path(path) => path.to_tokens(tokens),
            Dim::Block(block) => block.to_tokens(tokens),
            Dim::Neg(minus, lit) => {
                minus.to_tokens(tokens);
                lit.to_tokens(tokens);
            }
        }
    }
}

/// Tokens as text with single spaces only where needed (`{ 2 * H }`).
pub fn token_text(tokens: &TokenStream) -> String {
    let raw = tokens.to_string();
    raw.replace(" :: ", "::")
}

/// Splits the body at commas that are not inside `<…>` (groups are single
/// token trees already). Empty pieces (a trailing comma) are dropped.
fn split_entries(tokens: TokenStream) -> Vec<TokenStream> {
    let mut pieces = Vec::new();
    let mut current = Vec::new();
    let mut angle_depth = 0usize;
    let mut previous_was_joint_eq = false;
    for tree in tokens {
        let mut is_joint_eq = false;
        if let TokenTree::Punct(p) = &tree {
            match p.as_char() {
                '<' => angle_depth += 1,
                // `=>` and `->` are arrows, not closing brackets.
                '>' if !previous_was_joint_eq => angle_depth = angle_depth.saturating_sub(1),
                ',' if angle_depth == 0 => {
                    pieces.push(current.drain(..).collect::<TokenStream>());
                    previous_was_joint_eq = false;
                    continue;
                }
                '=' | '-' => is_joint_eq = p.spacing() == Spacing::Joint,
                _ => {}
            }
        }
        previous_was_joint_eq = is_joint_eq;
        current.push(tree);
    }
    pieces.push(current.into_iter().collect());
    pieces.retain(|p| !p.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> NetworkDef {
        syn::parse2(tokens).expect("parses") // ok: test-only
    }

    #[test]
    fn parses_the_sequential_form() {
        let def = parse(quote! {
            /// Doc.
            pub struct Mnist {
                hidden: Dense<784, 128> => relu,
                output: Dense<128, 10> => softmax,
                loss: cross_entropy,
            }
        });
        assert_eq!(def.ident, "Mnist");
        assert_eq!(def.attrs.len(), 1);
        assert!(def.errors.is_empty());
        assert_eq!(def.entries.len(), 3);
        let Entry::Layer(hidden) = &def.entries[0] else {
            panic!("first entry is a layer") // ok: test-only
        };
        assert_eq!(hidden.name, "hidden");
        assert_eq!(hidden.kind, "Dense");
        let dims = hidden.dims.as_ref().expect("dims"); // ok: test-only
        assert_eq!(dims[0].text(), "784");
        assert_eq!(dims[1].text(), "128");
        assert_eq!(hidden.activation.as_ref().expect("act"), "relu"); // ok: test-only
        let Entry::Loss(loss) = &def.entries[2] else {
            panic!("last entry is the loss") // ok: test-only
        };
        assert_eq!(loss.name, "cross_entropy");
    }

    #[test]
    fn activation_may_be_omitted_and_dims_may_be_named() {
        let def = parse(quote! {
            struct Net<const H: usize> {
                a: Dense<INPUTS, H>,
                b: DenseNoBias<H, { 2 * H }> => tanh,
                loss: mse
            }
        });
        assert!(def.errors.is_empty());
        let Entry::Layer(a) = &def.entries[0] else {
            panic!("layer") // ok: test-only
        };
        assert!(a.activation.is_none());
        let dims = a.dims.as_ref().expect("dims"); // ok: test-only
        assert_eq!(dims[0].text(), "INPUTS");
        let Entry::Layer(b) = &def.entries[1] else {
            panic!("layer") // ok: test-only
        };
        assert_eq!(b.dims.as_ref().expect("dims")[1].text(), "{ 2 * H }"); // ok: test-only
        assert_eq!(def.generics.params.len(), 1);
    }

    #[test]
    fn every_malformed_entry_is_reported() {
        let def = parse(quote! {
            struct Net {
                a: Dense<2 3>,
                b Dense<3, 4>,
                c: Dense<4, 1> => relu,
                loss: sse,
            }
        });
        assert_eq!(def.errors.len(), 2, "one error per malformed entry");
        let valid = def
            .entries
            .iter()
            .filter(|e| !matches!(e, Entry::Invalid))
            .count();
        assert_eq!(valid, 2, "the well-formed entries survive");
    }

    #[test]
    fn braced_single_names_are_names_and_negatives_are_kept_for_the_check() {
        let def = parse(quote! { struct N<const H: usize> { a: Dense<{ H }, -8>, loss: mse } });
        let Entry::Layer(a) = &def.entries[0] else {
            panic!("layer") // ok: test-only
        };
        let dims = a.dims.as_ref().expect("dims"); // ok: test-only
        assert!(matches!(&dims[0], Dim::Path(p) if p.is_ident("H")));
        assert!(matches!(&dims[1], Dim::Neg(..)));
        assert_eq!(dims[1].text(), "-8");
    }

    #[test]
    fn arrow_does_not_close_the_angle_brackets() {
        let pieces = split_entries(quote!(a: Dense<1, 2> => relu, loss: sse));
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn missing_struct_keyword_is_an_error() {
        let err = syn::parse2::<NetworkDef>(quote!(Net { a: Dense<1, 1> }))
            .err()
            .expect("error"); // ok: test-only
        assert!(err.to_string().contains("expected `struct`"));
    }
}
