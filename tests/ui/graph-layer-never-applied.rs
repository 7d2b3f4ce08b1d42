use chainrule::prelude::*;

network! {
    pub struct Spare {
        a: Dense<3, 2>,
        spare: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            a(x)
        }
        loss: mse,
    }
}

fn main() {}
