use chainrule::prelude::*;

network! {
    struct Short {
        hidden: Dense<4> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
