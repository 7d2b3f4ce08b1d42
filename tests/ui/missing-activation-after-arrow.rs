use chainrule::prelude::*;

network! {
    struct Arrow {
        hidden: Dense<4, 8> =>,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
