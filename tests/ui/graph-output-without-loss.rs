use chainrule::prelude::*;

network! {
    pub struct TwoHeads {
        a: Dense<3, 4>,
        b: Dense<3, 1>,
        fn forward(x: [3]) -> (class: [4], size: [1]) {
            (softmax(a(x)), b(x))
        }
        loss: cross_entropy(class),
    }
}

fn main() {}
