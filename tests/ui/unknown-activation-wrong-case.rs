use chainrule::prelude::*;

network! {
    struct Capitals {
        hidden: Dense<4, 8> => ReLU,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
