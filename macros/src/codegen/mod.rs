//! Stage 4, generate: the checked model into Rust.
//!
//! - [`glue`]: the network, gradients and workspace structs, `new`, `zeros`,
//!   the method signatures, the `Parameters`, `Model`, `Backprop` and
//!   `Network` impls, the compile-time dimension checks;
//! - [`forward`]: the forward pass and the losses, one function per
//!   operation kind;
//! - [`backward`]: the backward pass, one statement per rule application,
//!   each tagged with its rule and shapes, gradients of values that feed
//!   several operations summed (the sum rule);
//! - [`unroll`]: straight-line forms of small dense layers;
//! - [`dot`]: the computational graph as Graphviz DOT;
//! - [`spec`]: the graph as data (`chainrule::graph::GraphSpec`).
//!
//! Generated code names the runtime only by absolute paths
//! (`::chainrule::__private::…`, or `#[chainrule(crate = path)]`'s path, and
//! `::core::…`), so it works whatever the caller imported or defined
//! (`struct Option;`, `mod chainrule {}`).
//!
//! Each generated statement of the passes carries its derivation as a
//! `#[doc = "…"]` attribute: unlike `//` comments, attributes survive in the
//! token stream, so `cargo expand` prints them as `///` lines above the
//! statement. On a statement a doc attribute has no effect on the compiled
//! code (the lint `unused_doc_comments` is allowed on the generated fns).

mod backward;
mod conv;
mod dot;
mod forward;
mod glue;
mod spec;
mod stub;
pub mod unroll;

pub use stub::stub;

use std::cell::RefCell;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::check::{Model, ValueId};
use crate::parse::Dim;

thread_local! {
    /// The path of the runtime crate for the expansion under way (a proc
    /// macro expands one invocation at a time on a thread).
    static CRATE_PATH: RefCell<Option<syn::Path>> = const { RefCell::new(None) };
}

/// Sets the runtime crate's path for the duration of one expansion.
pub(crate) struct CratePath;

impl CratePath {
    /// `#[chainrule(crate = path)]`, or `::chainrule`.
    pub fn set(path: Option<&syn::Path>) -> CratePath {
        CRATE_PATH.with(|p| *p.borrow_mut() = path.cloned());
        CratePath
    }
}

impl Drop for CratePath {
    fn drop(&mut self) {
        CRATE_PATH.with(|p| *p.borrow_mut() = None);
    }
}

/// The absolute path of the runtime's hidden module.
pub(crate) fn rt() -> TokenStream {
    CRATE_PATH.with(|p| match &*p.borrow() {
        Some(path) => quote!(#path::__private),
        None => quote!(::chainrule::__private),
    })
}

/// Options of the generator (which dense layers take the small forms, see
/// [`unroll`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `None`: layers of at most [`unroll::MEASURED_MAX_WEIGHTS`] weights,
    /// or of at most [`unroll::MEASURED_MAX_ONE_ROW_DIM`] inputs and
    /// outputs, go through the runtime's cost model, product by product;
    /// `Some(n)`
    /// (`#[chainrule(unroll = n)]`): layers of at most `n` weights always
    /// take the small forms, the others the kernels.
    pub unroll: Option<usize>,
}

/// Everything generated for a valid network.
pub fn generate(model: &Model, mut options: Options) -> TokenStream {
    let _crate_path = CratePath::set(model.settings.krate.as_ref());
    if let Some(max_weights) = model.settings.unroll {
        options.unroll = Some(max_weights);
    }
    let names = Names::new(model);
    let structs = glue::structs(model, &names);
    let inherent = glue::inherent_impl(model, &names, options);
    let traits = glue::trait_impls(model, &names);
    let checks = glue::const_checks(model);
    quote! {
        #structs
        #inherent
        #traits
        #checks
    }
}

/// Names of the generated items and generic lists.
pub(crate) struct Names {
    /// The network's name.
    pub net: Ident,
    /// `{Net}Gradients`.
    pub grads: Ident,
    /// `{Net}Workspace`.
    pub ws: Ident,
    /// The user's const parameters, without defaults:
    /// `const H: ::core::primitive::usize`.
    pub const_params: Vec<TokenStream>,
    /// The user's const parameters with their defaults (for the structs).
    pub const_params_decl: Vec<TokenStream>,
    /// The user's const parameter names.
    pub const_args: Vec<Ident>,
}

impl Names {
    fn new(model: &Model) -> Self {
        let net = model.ident.clone();
        let mut const_params = Vec::new();
        let mut const_params_decl = Vec::new();
        let mut const_args = Vec::new();
        for param in &model.generics.params {
            if let syn::GenericParam::Const(c) = param {
                let id = &c.ident;
                const_params.push(quote!(const #id: ::core::primitive::usize));
                let default = c.default.as_ref().map(|d| quote!(= #d));
                const_params_decl.push(quote!(const #id: ::core::primitive::usize #default));
                const_args.push(id.clone());
            }
        }
        Names {
            grads: format_ident!("{}Gradients", net),
            ws: format_ident!("{}Workspace", net),
            net,
            const_params,
            const_params_decl,
            const_args,
        }
    }

    /// `Net<H, T>`.
    pub fn net_ty(&self) -> TokenStream {
        let (net, args) = (&self.net, &self.const_args);
        quote!(#net<#(#args,)* T>)
    }

    /// `NetGradients<H, T>`.
    pub fn grads_ty(&self) -> TokenStream {
        let (grads, args) = (&self.grads, &self.const_args);
        quote!(#grads<#(#args,)* T>)
    }

    /// `NetWorkspace<H, T, B>`.
    pub fn ws_ty(&self) -> TokenStream {
        let (ws, args) = (&self.ws, &self.const_args);
        quote!(#ws<#(#args,)* T, B>)
    }

    /// `<const H: usize, T: Scalar>` for impls.
    pub fn impl_generics(&self) -> TokenStream {
        let (params, rt) = (&self.const_params, rt());
        quote!(<#(#params,)* T: #rt::Scalar>)
    }
}

/// A value as an operation reads it: `a1`, or, across a junction of two
/// `const` widths, `SameWidth::<{ WIDTH }>::cast(a1)` (the widths are
/// compared by a compile-time check of their own, see
/// [`glue::const_checks`]).
pub(crate) fn through_junction(
    value: TokenStream,
    junction: Option<&crate::check::Junction>,
    mutable: bool,
) -> TokenStream {
    let Some(j) = junction else {
        return value;
    };
    let (rt, expected) = (rt(), &j.expected);
    let cast = if mutable {
        quote::format_ident!("cast_mut")
    } else {
        quote::format_ident!("cast")
    };
    quote!(#rt::SameWidth::<{ #expected }>::#cast(#value))
}

/// The identifier of a value (of the buffer holding it): `x`, `z1`, `h`.
/// Networks of at most this many forward steps (a dense layer and its
/// activation are two) let LLVM inline their forward and backward passes
/// into the caller; deeper ones keep them as functions of their own.
const INLINE_PASS_MAX_STEPS: usize = 8;

/// The inline attribute of a forward or backward pass. Inlined, a deep
/// network's whole pass is optimized again in every caller (a training
/// loop that calls it in two places doubles it), which the release rebuild
/// pays; one call per pass costs nanoseconds against the microseconds of a
/// deep network's step.
pub(crate) fn pass_inline(model: &Model) -> TokenStream {
    if model.steps.len() <= INLINE_PASS_MAX_STEPS {
        quote!(#[inline])
    } else {
        quote!(#[inline(never)])
    }
}

pub(crate) fn value_ident(model: &Model, value: ValueId) -> Ident {
    Ident::new(&model.values[model.storage(value)].name, Span::call_site())
}

/// The identifier of a value's gradient: `dl_dz1`.
pub(crate) fn grad_ident(model: &Model, value: ValueId) -> Ident {
    format_ident!("dl_d{}", model.values[model.storage(value)].name)
}

/// A value's name in comments (its own name, even for an alias).
pub(crate) fn value_name(model: &Model, value: ValueId) -> &str {
    &model.values[value].name
}

/// A dimension as text for comments: `128`, `H`.
pub(crate) fn dim_text(dim: &Dim) -> String {
    dim.text()
}

/// `[B×128]`.
pub(crate) fn shape(rows: &str, cols: &Dim) -> String {
    format!("[{rows}×{}]", dim_text(cols))
}

/// `[128×784]`.
pub(crate) fn shape2(rows: &Dim, cols: &Dim) -> String {
    format!("[{}×{}]", dim_text(rows), dim_text(cols))
}

/// `[B×128]` for a value, `[B×6·28·28]` for an image.
pub(crate) fn value_shape(model: &Model, value: ValueId) -> String {
    match &model.values[value].shape {
        crate::check::Shape::Flat(dim) => shape("B", dim),
        crate::check::Shape::Image {
            channels,
            height,
            width,
        } => format!("[B×{channels}·{height}·{width}]"),
    }
}

/// A literal `f64` for a factor, converted to the scalar:
/// `<T as Scalar>::from_f64(0.5)`.
pub(crate) fn factor(value: f64) -> TokenStream {
    let rt = rt();
    let lit = proc_macro2::Literal::f64_suffixed(value);
    quote!(<T as #rt::Scalar>::from_f64(#lit))
}

#[cfg(test)]
mod tests;
