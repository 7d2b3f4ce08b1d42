use chainrule::prelude::*;

network! {
    struct Twice {
        hidden: Dense<4, 8> => relu,
        hidden: Dense<8, 8> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
