use chainrule::prelude::*;

network! {
    pub struct Stack {
        input: [3, 16, 16],
        conv1: Conv2d<3, 8, 3> => relu,
        conv2: Conv2d<6, 8, 3> => relu,
        loss: mse,
    }
}

fn main() {}
