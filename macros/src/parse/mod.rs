//! Stage 1, parse: the tokens of a `network!` invocation into a syntax tree
//! that keeps every user token (for spans).
//!
//! The body is split into entries first (at top-level commas, and after the
//! body of a `fn forward`), and each entry is parsed on its own, so one
//! malformed entry does not hide the mistakes in the others: every syntax
//! error is collected.
//!
//! Two forms share the entries:
//! - the sequential form: layers in order, each applied to the previous
//!   one's output (`hidden: Dense<784, 128> => relu`), then `loss: NAME`;
//! - the graph form: layers declared once as fields, then
//!   `fn forward(x: [64]) -> [10] { let h = relu(first(x)); … }` (see
//!   [`forward`]), then the loss, which may be a weighted sum (see [`loss`]).
//!
//! Names are not resolved here (`Dense`, `relu`, `cross_entropy` are plain
//! identifiers): resolution, with "did you mean", is the check stage's job.

pub mod forward;
pub mod loss;

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Generics, Ident, LitInt, Token, Visibility};

pub use forward::ForwardDecl;
pub use loss::LossExpr;

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
    /// The entries in order; those that failed to parse are
    /// [`Entry::Invalid`] and their errors are in `errors`.
    pub entries: Vec<Entry>,
    /// Syntax errors of individual entries.
    pub errors: Vec<syn::Error>,
    /// The `#[chainrule(…)]` settings.
    pub settings: Settings,
}

/// `#[chainrule(unroll = N, crate = path)]` on the struct.
#[derive(Default, Clone)]
pub struct Settings {
    /// `unroll = N`: unroll dense layers of at most `N` weights (0: never),
    /// instead of the measured default.
    pub unroll: Option<usize>,
    /// `crate = path`: the path of the `chainrule` crate when the dependency
    /// is renamed (`crate = cr` for `cr = { package = "chainrule" }`).
    pub krate: Option<syn::Path>,
}

/// One entry of the body.
pub enum Entry {
    /// An entry that did not parse (its error is in
    /// [`NetworkDef::errors`]): shapes are not compared across it.
    Invalid,
    /// `name: Kind<dims, options> => activation`.
    Layer(LayerDecl),
    /// `input: [dims]`: the shape of the sequential form's input.
    Input(InputDecl),
    /// `loss: EXPR`.
    Loss(LossDecl),
    /// `fn forward(…) -> … { … }`: the graph form.
    Forward(Box<ForwardDecl>),
}

/// `#[attrs] name: Kind<IN, OUT> => activation`.
pub struct LayerDecl {
    /// Doc comments and attributes of the layer, passed to its field.
    pub attrs: Vec<Attribute>,
    /// The layer's (field) name.
    pub name: Ident,
    /// The layer kind as written (`Dense`, `Conv2d`, or a typo).
    pub kind: Ident,
    /// What is inside `<…>`, `None` when there are no angle brackets.
    pub args: Option<LayerArgs>,
    /// The activation after `=>`, `None` when omitted (identity).
    pub activation: Option<Ident>,
}

/// The arguments of a layer kind: `<1, 6, 5, stride = 2, padding = 1>`.
pub struct LayerArgs {
    /// The span of the `<`.
    pub open: Span,
    /// The positional dimensions, in order.
    pub dims: Vec<Dim>,
    /// The `key = value` settings, in order.
    pub options: Vec<LayerOption>,
}

/// `key = value` inside a layer's angle brackets.
pub struct LayerOption {
    /// The setting's name.
    pub key: Ident,
    /// Its value.
    pub value: Dim,
}

/// `input: [1, 28, 28]`.
pub struct InputDecl {
    /// The `input` identifier.
    pub key: Ident,
    /// The dimensions inside the brackets.
    pub dims: Vec<Dim>,
    /// The span of the brackets.
    pub span: Span,
}

/// `loss: EXPR`.
pub struct LossDecl {
    /// The `loss` identifier (span for errors).
    pub key: Ident,
    /// The loss as written.
    pub expr: LossExpr,
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
        let mut settings = Settings::default();
        let mut errors = Vec::new();
        attrs.retain(|attr| {
            if !attr.path().is_ident("chainrule") {
                return true;
            }
            if let Err(err) = parse_settings(attr, &mut settings) {
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
            settings,
        })
    }
}

/// `#[chainrule(unroll = N, crate = path)]`.
fn parse_settings(attr: &Attribute, settings: &mut Settings) -> syn::Result<()> {
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("unroll") {
            let value: LitInt = meta.value()?.parse()?;
            settings.unroll = Some(value.base10_parse::<usize>()?);
            Ok(())
        } else if meta.path.is_ident("crate") {
            settings.krate = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown setting: `#[chainrule(unroll = N)]` unrolls dense layers of at most N weights (0: never); `#[chainrule(crate = path)]` names a renamed `chainrule` dependency",
            ))
        }
    })
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        if input.peek(Token![fn]) {
            if let Some(attr) = attrs.first() {
                return Err(syn::Error::new_spanned(
                    attr,
                    "`fn forward` takes no attributes: document the network on its struct",
                ));
            }
            return Ok(Entry::Forward(Box::new(input.parse()?)));
        }
        let name: Ident = input.call(syn::ext::IdentExt::parse_any).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a layer `name: Dense<IN, OUT> => activation`, the loss `loss: NAME` or `fn forward(…) -> … { … }`",
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
        if name == "loss" && attrs.is_empty() {
            let expr: LossExpr = input.parse()?;
            return Ok(Entry::Loss(LossDecl { key: name, expr }));
        }
        if name == "input" && attrs.is_empty() && input.peek(syn::token::Bracket) {
            let (dims, span) = parse_bracketed_dims(input)?;
            if !input.is_empty() {
                return Err(input.error(
                    "unexpected tokens after the input's shape: write `input: [C, H, W]` or `input: [N]`",
                ));
            }
            return Ok(Entry::Input(InputDecl {
                key: name,
                dims,
                span,
            }));
        }
        let kind: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected a layer kind after `{name}:`, e.g. `Dense<IN, OUT>`"),
            )
        })?;
        let args = if input.peek(Token![<]) {
            Some(parse_args(input)?)
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
        Ok(Entry::Layer(LayerDecl {
            attrs,
            name,
            kind,
            args,
            activation,
        }))
    }
}

/// `<d1, d2, key = value, …>`, leniently: any number of dimensions and
/// settings (the check stage says what each kind takes).
fn parse_args(input: ParseStream) -> syn::Result<LayerArgs> {
    let open: Token![<] = input.parse()?;
    let mut dims = Vec::new();
    let mut options = Vec::new();
    loop {
        if input.peek(Token![>]) {
            let _: Token![>] = input.parse()?;
            return Ok(LayerArgs {
                open: open.span,
                dims,
                options,
            });
        }
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            let _: Token![=] = input.parse()?;
            let value: Dim = input.parse()?;
            options.push(LayerOption { key, value });
        } else {
            if let Some(first) = options.first() {
                return Err(syn::Error::new(
                    input.span(),
                    format!(
                        "dimensions come before the settings: move this before `{} = …`",
                        first.key
                    ),
                ));
            }
            dims.push(input.parse()?);
        }
        if input.peek(Token![,]) {
            let _: Token![,] = input.parse()?;
        } else if !input.peek(Token![>]) {
            return Err(input.error("expected `,` or `>` in the dimensions `<IN, OUT>`"));
        }
    }
}

/// `[d1, d2, …]`: the dimensions of an input or output shape, and the span
/// of the brackets.
pub fn parse_bracketed_dims(input: ParseStream) -> syn::Result<(Vec<Dim>, Span)> {
    let content;
    let bracket = syn::bracketed!(content in input);
    let dims = content.parse_terminated(Dim::parse, Token![,])?;
    let span = bracket.span.join();
    if dims.is_empty() {
        return Err(syn::Error::new(
            span,
            "a shape needs at least one dimension: `[N]` for N features, `[C, H, W]` for an image",
        ));
    }
    Ok((dims.into_iter().collect(), span))
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
    /// A literal dimension made by the macro (a computed width), spanned on
    /// the token that caused it.
    pub fn literal(value: usize, span: Span) -> Dim {
        Dim::Lit(LitInt::new(&value.to_string(), span))
    }

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

    /// The value of a valid literal, `None` otherwise.
    pub fn known(&self) -> Option<usize> {
        self.literal_value().and_then(Result::ok)
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

/// Splits the body into entries: at commas that are not inside `<…>`
/// (groups are single token trees already), and after the body `{ … }` of a
/// `fn`, so that `fn forward(…) -> … { … }` needs no comma after it. Empty
/// pieces (a trailing comma) are dropped.
fn split_entries(tokens: TokenStream) -> Vec<TokenStream> {
    let mut pieces = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    let mut angle_depth = 0usize;
    let mut previous_was_joint_eq = false;
    // Inside a `fn` entry: the piece ends with its brace-delimited body.
    let mut in_fn = false;
    for tree in tokens {
        let mut is_joint_eq = false;
        match &tree {
            TokenTree::Ident(ident) if ident == "fn" && angle_depth == 0 && !in_fn => {
                in_fn = true;
            }
            TokenTree::Group(group) if in_fn && group.delimiter() == Delimiter::Brace => {
                current.push(tree);
                pieces.push(current.drain(..).collect::<TokenStream>());
                in_fn = false;
                previous_was_joint_eq = false;
                continue;
            }
            TokenTree::Punct(p) if !in_fn => match p.as_char() {
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
            },
            _ => {}
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
        let dims = &hidden.args.as_ref().expect("dims").dims; // ok: test-only
        assert_eq!(dims[0].text(), "784");
        assert_eq!(dims[1].text(), "128");
        assert_eq!(hidden.activation.as_ref().expect("act"), "relu"); // ok: test-only
        assert!(matches!(&def.entries[2], Entry::Loss(_)));
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
        let dims = &a.args.as_ref().expect("dims").dims; // ok: test-only
        assert_eq!(dims[0].text(), "INPUTS");
        let Entry::Layer(b) = &def.entries[1] else {
            panic!("layer") // ok: test-only
        };
        assert_eq!(b.args.as_ref().expect("dims").dims[1].text(), "{ 2 * H }"); // ok: test-only
        assert_eq!(def.generics.params.len(), 1);
    }

    #[test]
    fn settings_and_image_inputs_parse() {
        let def = parse(quote! {
            struct LeNet {
                input: [1, 28, 28],
                conv1: Conv2d<1, 6, 5, stride = 1, padding = 2> => relu,
                pool1: MaxPool2d<2>,
                flat: Flatten,
                loss: cross_entropy,
            }
        });
        assert!(def.errors.is_empty(), "{}", def.errors.len());
        let Entry::Input(input) = &def.entries[0] else {
            panic!("input") // ok: test-only
        };
        assert_eq!(input.dims.len(), 3);
        let Entry::Layer(conv) = &def.entries[1] else {
            panic!("layer") // ok: test-only
        };
        let args = conv.args.as_ref().expect("args"); // ok: test-only
        assert_eq!(args.dims.len(), 3);
        let keys: Vec<String> = args.options.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["stride", "padding"]);
        let Entry::Layer(flat) = &def.entries[3] else {
            panic!("layer") // ok: test-only
        };
        assert!(flat.args.is_none());
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
        let dims = &a.args.as_ref().expect("dims").dims; // ok: test-only
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
    fn a_forward_fn_is_one_entry_with_or_without_a_comma_after_it() {
        let pieces = split_entries(quote!(
            a: Dense<1, 2>,
            fn forward(x: [1]) -> [2] { let h = a(x); h }
            loss: mse,
        ));
        assert_eq!(pieces.len(), 3);
        let pieces = split_entries(quote!(fn forward(x: [1]) -> [2] { a(x) }, loss: mse));
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn missing_struct_keyword_is_an_error() {
        let err = syn::parse2::<NetworkDef>(quote!(Net { a: Dense<1, 1> }))
            .err()
            .expect("error"); // ok: test-only
        assert!(err.to_string().contains("expected `struct`"));
    }

    #[test]
    fn the_crate_setting_is_read() {
        let def = parse(quote! {
            #[chainrule(crate = cr, unroll = 0)]
            struct N { a: Dense<1, 1>, loss: mse }
        });
        assert!(def.errors.is_empty());
        assert!(def.settings.krate.is_some());
        assert_eq!(def.settings.unroll, Some(0));
    }
}
