//! Straight-line forms of small operations.

use proc_macro2::TokenStream;

use super::Options;
use crate::check::{Model, ValueId};
use crate::vocab::Activation;

/// Dense layers with at most this many weights are unrolled by default.
pub const DEFAULT_MAX_WEIGHTS: usize = 0;

/// `z = x·Wᵀ + 1·bᵀ` unrolled, or `None`.
pub(super) fn dense_forward(
    _m: &Model,
    _l: usize,
    _i: ValueId,
    _o: ValueId,
    opt: Options,
) -> Option<TokenStream> {
    (opt.unroll_max_weights == usize::MAX).then(TokenStream::new)
}

/// `dl_dw = dl_dzᵀ·x`, `dl_db = 1ᵀ·dl_dz` unrolled, or `None`.
pub(super) fn dense_backward(
    _m: &Model,
    _l: usize,
    _i: ValueId,
    _o: ValueId,
    _opt: Options,
) -> Option<TokenStream> {
    None
}

/// `dl_dx = dl_dz·W` unrolled, or `None`.
pub(super) fn dense_input_grad(
    _m: &Model,
    _l: usize,
    _i: ValueId,
    _o: ValueId,
    _opt: Options,
) -> Option<TokenStream> {
    None
}

/// `a = f(z)` unrolled, or `None`.
pub(super) fn activation_forward(
    _m: &Model,
    _a: Activation,
    _i: ValueId,
    _o: ValueId,
    _opt: Options,
) -> Option<TokenStream> {
    None
}

/// `dl_dz = dl_da ⊗ f′(z)` unrolled, or `None`.
pub(super) fn activation_backward(
    _m: &Model,
    _a: Activation,
    _i: ValueId,
    _o: ValueId,
    _opt: Options,
) -> Option<TokenStream> {
    None
}
