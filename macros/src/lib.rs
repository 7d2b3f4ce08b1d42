//! The `network!` proc macro of chainrule. Use it through the `chainrule`
//! crate, which re-exports it: `chainrule::network!`.

use proc_macro::TokenStream;

/// Declares a network; see the `chainrule` crate.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
