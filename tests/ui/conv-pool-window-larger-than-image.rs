use chainrule::prelude::*;

network! {
    pub struct Pooled {
        input: [2, 3, 3],
        pool: MaxPool2d<4>,
        loss: mse,
    }
}

fn main() {}
