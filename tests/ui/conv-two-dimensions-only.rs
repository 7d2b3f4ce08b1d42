use chainrule::prelude::*;

network! {
    pub struct Short {
        input: [1, 8, 8],
        conv: Conv2d<1, 6>,
        loss: mse,
    }
}

fn main() {}
