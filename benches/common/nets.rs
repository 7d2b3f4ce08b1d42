//! The workloads as chainrule networks.

use chainrule::prelude::*;

network! {
    /// xor: 2 → 8 → 1, tanh, sigmoid + binary cross-entropy.
    pub struct Xor {
        hidden: Dense<2, 8> => tanh,
        output: Dense<8, 1> => sigmoid,
        loss: binary_cross_entropy,
    }
}

network! {
    /// iris: 4 → 16 → 3, relu, softmax + cross-entropy.
    pub struct Iris {
        hidden: Dense<4, 16> => relu,
        output: Dense<16, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// digits: 64 → 32 → 10, relu, softmax + cross-entropy.
    pub struct Digits {
        hidden: Dense<64, 32> => relu,
        output: Dense<32, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// mnist: 784 → 128 → 10, relu, softmax + cross-entropy.
    pub struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// mnist3: 784 → 256 → 128 → 10, relu, softmax + cross-entropy.
    pub struct Mnist3 {
        hidden1: Dense<784, 256> => relu,
        hidden2: Dense<256, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// lenet (issue 10): LeNet-5 on 1×28×28 images, relu, softmax +
    /// cross-entropy.
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<1, 6, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<6, 16, 5> => relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<400, 120> => relu,
        fc2: Dense<120, 84> => relu,
        out: Dense<84, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// residual (issue 9): 64 → 128, two residual blocks `h + relu(block(h))`,
    /// → 10, softmax + cross-entropy.
    pub struct Residual {
        stem: Dense<64, 128>,
        block1: Dense<128, 128>,
        block2: Dense<128, 128>,
        head: Dense<128, 10>,
        fn forward(x: [64]) -> [10] {
            let h = relu(stem(x));
            let h1 = h + relu(block1(h));
            let h2 = h1 + relu(block2(h1));
            softmax(head(h2))
        }
        loss: cross_entropy,
    }
}

/// Overwrites a network's parameters with PyTorch-layout tensors in
/// declaration order (`hidden.weight, hidden.bias, …`).
///
/// # Panics
/// When the count or a shape differs.
pub fn load<P: Parameters<Scalar = f32>>(net: &mut P, params: &[super::data::Tensor]) {
    let mut next = params.iter();
    net.visit_mut(&mut |info, values| {
        let tensor = next.next().expect("as many tensors as the network has");
        assert_eq!(info.shape, tensor.shape.as_slice(), "{}", info.name);
        values.copy_from_slice(&tensor.data);
    });
    assert!(next.next().is_none(), "as many tensors as the network has");
}

network! {
    /// policy (issue 15): 24 → 64 → 64 → 4, tanh, softmax + cross-entropy
    /// over 4 discrete actions: the size of a typical control policy.
    pub struct Policy {
        hidden1: Dense<24, 64> => tanh,
        hidden2: Dense<64, 64> => tanh,
        output: Dense<64, 4> => softmax,
        loss: cross_entropy,
    }
}
