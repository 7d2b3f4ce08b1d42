use chainrule::prelude::*;

network! {
    pub struct Square {
        input: [28, 28],
        conv: Conv2d<1, 2, 3>,
        loss: mse,
    }
}

fn main() {}
