use chainrule::prelude::*;

network! {
    pub struct Penalised {
        first: DenseNoBias<3, 4>,
        second: Dense<4, 2>,
        fn forward(x: [3]) -> [2] {
            second(tanh(first(x)))
        }
        loss: mse + 0.01 * l2(first.bias),
    }
}

fn main() {}
