//! The words `network!` knows (layer kinds, activations, losses) and the
//! "did you mean" suggestion for the ones it does not.

/// A layer kind, as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `Dense<IN, OUT>`: `z = x·Wᵀ + 1·bᵀ`.
    Dense,
    /// `DenseNoBias<IN, OUT>`: `z = x·Wᵀ`.
    DenseNoBias,
    /// `LayerNorm<N>`: `γ ⊗ (x − μ)/√(σ² + ε) + β` per row.
    LayerNorm,
    /// `Conv2d<IN_CH, OUT_CH, K, stride = S, padding = P>`.
    Conv2d,
    /// `Conv2dNoBias<IN_CH, OUT_CH, K, …>`.
    Conv2dNoBias,
    /// `MaxPool2d<K, stride = S>`.
    MaxPool2d,
    /// `AvgPool2d<K, stride = S>`.
    AvgPool2d,
    /// `GlobalAvgPool`: the mean of each channel.
    GlobalAvgPool,
    /// `Flatten`: an image as its C·H·W features.
    Flatten,
}

/// An activation after `=>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `a = z`.
    Identity,
    /// `a = σ(z)`.
    Sigmoid,
    /// `a = tanh z`.
    Tanh,
    /// `a = max(z, 0)`.
    Relu,
    /// `a = z` or `0.01·z`.
    LeakyRelu,
    /// Row-wise softmax.
    Softmax,
}

/// A loss, `loss: NAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// `Σ (a − y)²`.
    Sse,
    /// `Σ (a − y)² / (B·N)`.
    Mse,
    /// Binary cross-entropy of a sigmoid output (fused, from logits).
    BinaryCrossEntropy,
    /// Cross-entropy of a softmax output (fused, from logits).
    CrossEntropy,
}

/// The layer kinds as written.
pub const LAYER_KINDS: &[(&str, LayerKind)] = &[
    ("Dense", LayerKind::Dense),
    ("DenseNoBias", LayerKind::DenseNoBias),
    ("LayerNorm", LayerKind::LayerNorm),
    ("Conv2d", LayerKind::Conv2d),
    ("Conv2dNoBias", LayerKind::Conv2dNoBias),
    ("MaxPool2d", LayerKind::MaxPool2d),
    ("AvgPool2d", LayerKind::AvgPool2d),
    ("GlobalAvgPool", LayerKind::GlobalAvgPool),
    ("Flatten", LayerKind::Flatten),
];

/// The functions of the graph form that are not activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `concat(a, b, …)`: features side by side.
    Concat,
    /// `flatten(image)`.
    Flatten,
}

/// The functions as written in `fn forward`.
pub const FUNCTIONS: &[(&str, Function)] =
    &[("concat", Function::Concat), ("flatten", Function::Flatten)];

/// A penalty on parameters, a term of the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PenaltyKind {
    /// `l2(a.weight, …)`: `Σ w²` over the named tensors.
    L2,
}

/// The penalties as written.
pub const PENALTIES: &[(&str, PenaltyKind)] = &[("l2", PenaltyKind::L2)];

/// The activations as written.
pub const ACTIVATIONS: &[(&str, Activation)] = &[
    ("identity", Activation::Identity),
    ("sigmoid", Activation::Sigmoid),
    ("tanh", Activation::Tanh),
    ("relu", Activation::Relu),
    ("leaky_relu", Activation::LeakyRelu),
    ("softmax", Activation::Softmax),
];

/// The losses as written.
pub const LOSSES: &[(&str, LossKind)] = &[
    ("sse", LossKind::Sse),
    ("mse", LossKind::Mse),
    ("binary_cross_entropy", LossKind::BinaryCrossEntropy),
    ("cross_entropy", LossKind::CrossEntropy),
];

/// Names users coming from other libraries type, and what they mean here.
const ALIASES: &[(&str, &str)] = &[
    ("Linear", "Dense"),
    ("linear", "identity"),
    ("none", "identity"),
    ("logistic", "sigmoid"),
    ("leakyrelu", "leaky_relu"),
    ("LeakyReLU", "leaky_relu"),
    ("ReLU", "relu"),
    ("bce", "binary_cross_entropy"),
    ("ce", "cross_entropy"),
    ("nll", "cross_entropy"),
    ("categorical_cross_entropy", "cross_entropy"),
    ("softmax_cross_entropy", "cross_entropy"),
    ("log_loss", "binary_cross_entropy"),
    ("weight_decay", "l2"),
    ("Conv2D", "Conv2d"),
    ("Conv", "Conv2d"),
    ("MaxPool", "MaxPool2d"),
    ("MaxPool2D", "MaxPool2d"),
    ("AvgPool2D", "AvgPool2d"),
    ("AveragePool", "AvgPool2d"),
    ("GlobalAveragePooling2D", "GlobalAvgPool"),
    ("AdaptiveAvgPool2d", "GlobalAvgPool"),
    ("LayerNormalization", "LayerNorm"),
    ("cat", "concat"),
    ("mean_squared_error", "mse"),
];

impl Activation {
    /// The name as written in `network!`.
    pub fn name(self) -> &'static str {
        ACTIVATIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("identity", |(n, _)| n)
    }
}

impl LossKind {
    /// The name as written in `network!`.
    pub fn name(self) -> &'static str {
        LOSSES
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("sse", |(n, _)| n)
    }
}

impl PenaltyKind {
    /// The name as written in `network!`.
    pub fn name(self) -> &'static str {
        PENALTIES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("l2", |(n, _)| n)
    }
}

/// Names the generated methods use for their own arguments and locals: a
/// value of `fn forward` may not take them.
const RESERVED_VALUE_NAMES: &[&str] = &["ws", "grads", "y", "loss", "inputs", "dl_dinputs", "rng"];

/// Why `name` cannot name a value of `fn forward`, if it cannot.
pub fn reserved_value_name(name: &str) -> Option<String> {
    if RESERVED_VALUE_NAMES.contains(&name) {
        return Some(format!(
            "`{name}` is a name the generated code uses for its own arguments: choose another name for this value"
        ));
    }
    if name.starts_with("dl_d") {
        return Some(format!(
            "names starting with `dl_d` are the gradients' names in the generated code (`dl_dh` is ∂l/∂h): choose another name than `{name}`"
        ));
    }
    None
}

/// The closest name in `table` to `word`, if close enough to be a typo (no
/// aliases).
pub fn closest<V>(table: &[(&str, V)], word: &str) -> Option<String> {
    let best = table
        .iter()
        .map(|(n, _)| (edit_distance(&word.to_lowercase(), &n.to_lowercase()), *n))
        .min_by_key(|(d, _)| *d)?;
    let limit = (word.chars().count() / 3).clamp(1, 3);
    (best.0 <= limit).then(|| best.1.to_string())
}

/// Looks `word` up in `table`.
pub fn lookup<V: Copy>(table: &[(&'static str, V)], word: &str) -> Option<V> {
    table.iter().find(|(n, _)| *n == word).map(|(_, v)| *v)
}

/// The closest known name to `word`, if one is close enough to be a typo
/// (or a known alias from another library).
pub fn did_you_mean<V>(table: &[(&'static str, V)], word: &str) -> Option<&'static str>
where
    V: Copy,
{
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == word) {
        if let Some(found) = names.iter().find(|n| *n == target) {
            return static_name(table, found);
        }
    }
    let lower = word.to_lowercase();
    let best = names
        .iter()
        .map(|n| (edit_distance(&lower, &n.to_lowercase()), *n))
        .min_by_key(|(d, _)| *d)?;
    let limit = (word.chars().count() / 3).clamp(1, 3);
    if best.0 <= limit {
        static_name(table, best.1)
    } else {
        None
    }
}

fn static_name<V>(table: &[(&'static str, V)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(n, _)| *n)
}

/// The known names, for messages: "`a`, `b` or `c`".
pub fn list<V>(table: &[(&str, V)]) -> String {
    let names: Vec<String> = table.iter().map(|(n, _)| format!("`{n}`")).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {}", rest.join(", "), last),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// The message for an unknown word: "unknown WHAT `word`; did you mean
/// `x`? (known: …)".
pub fn unknown<V: Copy>(what: &str, table: &[(&'static str, V)], word: &str) -> String {
    match did_you_mean(table, word) {
        Some(best) => format!("unknown {what} `{word}`: did you mean `{best}`?"),
        None => format!("unknown {what} `{word}`: expected {}", list(table)),
    }
}

/// Levenshtein distance (insertions, deletions, substitutions), with a
/// transposition of two adjacent characters counted as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("relu", "relu"), 0);
        assert_eq!(edit_distance("rleu", "relu"), 1, "a transposition");
        assert_eq!(edit_distance("relu", "reluu"), 1);
        assert_eq!(edit_distance("sigmoid", "sigmod"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_for_typos_and_aliases() {
        assert_eq!(did_you_mean(ACTIVATIONS, "rlu"), Some("relu"));
        assert_eq!(did_you_mean(ACTIVATIONS, "sigmod"), Some("sigmoid"));
        assert_eq!(did_you_mean(ACTIVATIONS, "Softmax"), Some("softmax"));
        assert_eq!(did_you_mean(LOSSES, "cross_entropi"), Some("cross_entropy"));
        assert_eq!(did_you_mean(LOSSES, "bce"), Some("binary_cross_entropy"));
        assert_eq!(did_you_mean(LAYER_KINDS, "Dnese"), Some("Dense"));
        assert_eq!(did_you_mean(LAYER_KINDS, "Linear"), Some("Dense"));
        assert_eq!(did_you_mean(ACTIVATIONS, "gelu_new_fancy"), None);
    }

    #[test]
    fn unknown_messages_list_the_known_words_without_a_suggestion() {
        let msg = unknown("loss", LOSSES, "hinge");
        assert_eq!(
            msg,
            "unknown loss `hinge`: expected `sse`, `mse`, `binary_cross_entropy` or `cross_entropy`"
        );
        assert_eq!(
            unknown("activation", ACTIVATIONS, "rleu"),
            "unknown activation `rleu`: did you mean `relu`?"
        );
    }
}
