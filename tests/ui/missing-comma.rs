use chainrule::prelude::*;

network! {
    struct NoComma {
        hidden: Dense<4, 8> => relu
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
