use chainrule::prelude::*;

network! {
    struct Classifier {
        hidden: Dense<784, 128> => relu,
        output: Dense<64, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {}
