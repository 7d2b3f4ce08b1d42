use chainrule::prelude::*;

const CHANNELS: usize = 1;

network! {
    pub struct Named {
        input: [1, 8, 8],
        conv: Conv2d<CHANNELS, 2, 3>,
        loss: mse,
    }
}

fn main() {}
