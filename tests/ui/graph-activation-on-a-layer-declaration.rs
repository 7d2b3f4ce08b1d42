use chainrule::prelude::*;

network! {
    pub struct Arrow {
        a: Dense<3, 2> => relu,
        fn forward(x: [3]) -> [2] {
            a(x)
        }
        loss: mse,
    }
}

fn main() {}
