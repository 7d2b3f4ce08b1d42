use chainrule::prelude::*;

network! {
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<1, 6, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<6, 16, 5> => relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<784, 120> => relu,
        out: Dense<120, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {}
