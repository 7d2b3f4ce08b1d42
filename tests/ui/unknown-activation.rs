use chainrule::prelude::*;

network! {
    struct Typo {
        hidden: Dense<4, 8> => sigmod,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
