use chainrule::prelude::*;

network! {
    pub struct Skip {
        first: Dense<64, 32>,
        shortcut: Dense<64, 64>,
        fn forward(x: [64]) -> [32] {
            let h = relu(first(x));
            h + shortcut(x)
        }
        loss: mse,
    }
}

fn main() {}
