//! The `network!` proc macro of chainrule. Use it through the `chainrule`
//! crate, which re-exports it: `chainrule::network!`.
//!
//! One pipeline, one module a stage, each a plain function over
//! `proc_macro2` tokens (unit-tested as such):
//!
//! 1. `parse`: tokens → syntax tree (syn), every user token kept for spans;
//! 2. `ir`: syntax tree → one graph of operations for both forms (the
//!    sequential chain and `fn forward`'s bindings and expressions);
//! 3. `check`: name resolution and shape inference, collecting every error;
//! 4. `codegen`: the structs, the passes, the trait impls, the DOT graph.
//!
//! On error the macro emits every error and a stub of the network type.

mod check;
mod codegen;
#[cfg(test)]
mod expansion;
#[cfg(test)]
mod fuzz;
mod ir;
mod parse;
mod vocab;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;

/// Declares a network; see the `chainrule` crate.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand(input.into(), codegen::Options::default()).into()
}

/// The whole pipeline: parse → lower → check → generate (or errors + stub).
fn expand(input: TokenStream2, options: codegen::Options) -> TokenStream2 {
    let def = match syn::parse2::<parse::NetworkDef>(input.clone()) {
        Ok(def) => def,
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(codegen::stub(&input));
            return out;
        }
    };
    let krate = def.settings.krate.clone();
    match check::check(ir::lower(def)) {
        Ok(model) => codegen::generate(&model, options),
        Err(err) => {
            let _crate_path = codegen::CratePath::set(krate.as_ref());
            let mut out = err.to_compile_error();
            out.extend(codegen::stub(&input));
            out
        }
    }
}
