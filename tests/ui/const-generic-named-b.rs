use chainrule::prelude::*;

network! {
    struct Batchy<const B: usize> {
        hidden: Dense<4, B> => relu,
        output: Dense<B, 1> => identity,
        loss: sse,
    }
}

fn main() {}
