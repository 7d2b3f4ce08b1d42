// The network of this crate, included by src/lib.rs and by build.rs (which
// writes its weight file), so that both see the same declaration.
network! {
    /// 4 → 40 (relu) → 6 (tanh) → 3 (softmax). 40 hidden units make a
    /// batch of 16 rows take the blocked matrix product (and its buffers);
    /// the 6 tanh units of a single row take the scalar tanh (libm).
    pub struct Tiny {
        hidden: Dense<4, 40> => relu,
        middle: Dense<40, 6> => tanh,
        output: Dense<6, 3> => softmax,
        loss: cross_entropy,
    }
}
