//! The five workloads as chainrule networks.

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
