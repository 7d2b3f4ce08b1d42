use chainrule::prelude::*;

network! {
    struct Mlp<const H: usize> {
        hidden: Dense<4, H> => relu,
        output: Dense<32, 1> => identity,
        loss: sse,
    }
}

fn main() {}
