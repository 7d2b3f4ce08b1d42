use chainrule::prelude::*;

network! {
    pub struct TwoInputs {
        a: Dense<3, 2>,
        fn forward(x: [3], extra: [5]) -> [2] {
            a(x)
        }
        loss: mse,
    }
}

fn main() {}
