use chainrule::prelude::*;

network! {
    pub struct Gate {
        gate: Dense<4, 3>,
        value: Dense<4, 5>,
        fn forward(x: [4]) -> [3] {
            sigmoid(gate(x)) * value(x)
        }
        loss: mse,
    }
}

fn main() {}
