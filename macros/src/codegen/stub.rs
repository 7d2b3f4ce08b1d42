//! What is emitted, besides the errors, for an invalid declaration: the
//! network type and its companions with the user's name, generics and the
//! methods' signatures (bodies never run: the crate does not compile), so
//! the rest of the user's code type-checks and only the real mistakes are
//! reported.

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};

use super::rt;
use crate::parse::{Dim, Entry, NetworkDef};

/// The stub for `tokens`, as far as they can be understood: from the parsed
/// declaration, or else from the first `struct Name` in the tokens.
pub fn stub(tokens: &TokenStream) -> TokenStream {
    match syn::parse2::<NetworkDef>(tokens.clone()) {
        Ok(def) => from_def(&def),
        Err(_) => match struct_name(tokens) {
            Some(ident) => bare(&ident, &[]),
            None => TokenStream::new(),
        },
    }
}

/// The identifier after the first `struct`.
fn struct_name(tokens: &TokenStream) -> Option<Ident> {
    let mut after_struct = false;
    for tree in tokens.clone() {
        if let TokenTree::Ident(ident) = tree {
            if after_struct {
                return Some(ident);
            }
            after_struct = ident == "struct";
        }
    }
    None
}

/// The three structs (`Net`, `NetGradients`, `NetWorkspace`).
fn bare(ident: &Ident, consts: &[Ident]) -> TokenStream {
    let rt = rt();
    let grads = format_ident!("{}Gradients", ident);
    let ws = format_ident!("{}Workspace", ident);
    quote! {
        /// Stub: the declaration has errors.
        #[allow(dead_code)]
        pub struct #ident<#(const #consts: ::core::primitive::usize,)* T: #rt::Scalar = ::core::primitive::f32> {
            _invalid_declaration: ::core::marker::PhantomData<T>,
        }
        /// Stub: the declaration has errors.
        #[allow(dead_code)]
        pub struct #grads<#(const #consts: ::core::primitive::usize,)* T: #rt::Scalar = ::core::primitive::f32> {
            _invalid_declaration: ::core::marker::PhantomData<T>,
        }
        /// Stub: the declaration has errors.
        #[allow(dead_code)]
        pub struct #ws<#(const #consts: ::core::primitive::usize,)* T: #rt::Scalar, const B: ::core::primitive::usize> {
            _invalid_declaration: ::core::marker::PhantomData<T>,
        }
    }
}

/// The structs and the inherent methods, typed where the declaration's
/// first input and last output dimensions could be read.
fn from_def(def: &NetworkDef) -> TokenStream {
    let rt = rt();
    let ident = &def.ident;
    let consts: Vec<Ident> = def
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Const(c) if c.ident != "T" && c.ident != "B" => {
                Some(c.ident.clone())
            }
            _ => None,
        })
        .collect();
    let structs = bare(ident, &consts);
    let (grads, ws) = (
        format_ident!("{}Gradients", ident),
        format_ident!("{}Workspace", ident),
    );
    let typed_ends = typed_ends(def);
    let unreachable = quote!(::core::unreachable!("the network declaration has errors"));
    let typed = match typed_ends {
        Some((input, output)) if usable(input) && usable(output) => {
            quote! {
                /// Stub: the declaration has errors.
                pub fn forward<const B: ::core::primitive::usize>(&self, x: &#rt::Matrix<T, B, #input>) -> #rt::Matrix<T, B, #output> {
                    let _ = x;
                    #unreachable
                }
                /// Stub: the declaration has errors.
                pub fn forward_with<'w, const B: ::core::primitive::usize>(&self, x: &#rt::Matrix<T, B, #input>, ws: &'w mut #ws<#(#consts,)* T, B>) -> &'w #rt::Matrix<T, B, #output> {
                    let _ = (x, ws);
                    #unreachable
                }
            }
        }
        _ => TokenStream::new(),
    };
    quote! {
        #structs
        #[allow(dead_code, unused_variables, clippy::all)]
        impl<#(const #consts: ::core::primitive::usize,)* T: #rt::Scalar> #ident<#(#consts,)* T> {
            /// Stub: the declaration has errors.
            pub fn new(seed: ::core::primitive::u64) -> Self { #unreachable }
            /// Stub: the declaration has errors.
            pub fn zeros() -> Self { #unreachable }
            /// Stub: the declaration has errors.
            pub fn gradients(&self) -> #grads<#(#consts,)* T> { #unreachable }
            /// Stub: the declaration has errors.
            pub fn workspace<const B: ::core::primitive::usize>(&self) -> #ws<#(#consts,)* T, B> { #unreachable }
            /// Stub: the declaration has errors.
            pub fn graph_dot() -> #rt::String { #unreachable }
            /// Stub: the declaration has errors.
            pub fn loss<X: ?::core::marker::Sized, Y: ?::core::marker::Sized>(&self, x: &X, y: &Y) -> T { #unreachable }
            /// Stub: the declaration has errors.
            pub fn loss_with<X: ?::core::marker::Sized, Y: ?::core::marker::Sized, W>(&self, x: &X, y: &Y, ws: &mut W) -> T { #unreachable }
            /// Stub: the declaration has errors.
            pub fn backward<X: ?::core::marker::Sized, Y: ?::core::marker::Sized, W>(&self, x: &X, y: &Y, grads: &mut #grads<#(#consts,)* T>, ws: &mut W) -> T { #unreachable }
            #typed
        }
    }
}

/// The input and output widths of a network with one flat input and one
/// flat output, as far as the declaration tells: from `fn forward`'s
/// signature, or from the first and last dense layers of the sequential
/// form.
fn typed_ends(def: &NetworkDef) -> Option<(&Dim, &Dim)> {
    let forward = def.entries.iter().find_map(|e| match e {
        Entry::Forward(f) => Some(f),
        _ => None,
    });
    if let Some(f) = forward {
        return match (f.inputs.as_slice(), f.outputs.as_slice()) {
            ([input], [output]) => match (input.dims.as_slice(), output.dims.as_slice()) {
                ([i], [o]) => Some((i, o)),
                _ => None,
            },
            _ => None,
        };
    }
    if def.entries.iter().any(|e| matches!(e, Entry::Input(_))) {
        return None;
    }
    let dims: Vec<&Vec<Dim>> = def
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Layer(l) => l.args.as_ref().map(|a| &a.dims).filter(|d| d.len() == 2),
            _ => None,
        })
        .collect();
    Some((&dims.first()?[0], &dims.last()?[1]))
}

/// A dimension that can stand in a type: not negative, a literal that fits.
fn usable(dim: &Dim) -> bool {
    match dim {
        Dim::Neg(..) => false,
        Dim::Lit(_) => matches!(dim.literal_value(), Some(Ok(v)) if v > 0),
        Dim::Path(_) | Dim::Block(_) => true,
    }
}
