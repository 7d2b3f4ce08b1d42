use chainrule::prelude::*;

network! {
    struct Logits {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 3>,
        loss: cross_entropy,
    }
}

fn main() {}
