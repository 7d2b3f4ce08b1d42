//! chainrule::data: CSV and IDX loading, the shipped datasets, splits,
//! shuffling, standardisation and batching; every error case.

use std::path::{Path, PathBuf};

use chainrule::data::{
    mnist, read_idx_images, read_idx_labels, CsvOptions, DataError, Dataset, IdxProblem,
    LabelColumn, RegressionDataset, Shuffler, Standardizer, Tail,
};
use chainrule::{ClassLabels, Matrix, Targets};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data")
        .join(name)
}

/// A fresh directory under the system's temporary directory, removed when the
/// returned guard drops (also when the test panics).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("chainrule-data-{name}-"))
        .tempdir()
        .expect("create a temporary directory")
}

fn csv<const IN: usize, const OUT: usize>(text: &str) -> Result<Dataset<f64, IN, OUT>, DataError> {
    Dataset::from_csv_reader(text.as_bytes(), "test.csv", &CsvOptions::default())
}

// ---------------------------------------------------------------- shipped data

#[test]
fn iris_has_150_rows_of_4_features_and_50_of_each_class() {
    let iris = Dataset::<f32, 4, 3>::from_csv(shipped("iris.csv"), &CsvOptions::default()).unwrap();
    assert_eq!(iris.len(), 150);
    assert_eq!(iris.class_counts(), [50, 50, 50]);
    // Fisher's first flower: a setosa of 5.1, 3.5, 1.4, 0.2 cm.
    assert_eq!(iris.get(0), Some((&[5.1f32, 3.5, 1.4, 0.2], 0)));
    // The last one: a virginica of 5.9, 3.0, 5.1, 1.8 cm.
    assert_eq!(iris.get(149), Some((&[5.9f32, 3.0, 5.1, 1.8], 2)));
}

#[test]
fn digits_has_1797_rows_of_64_pixels_with_the_known_class_counts() {
    let digits =
        Dataset::<f64, 64, 10>::from_csv(shipped("digits.csv"), &CsvOptions::default()).unwrap();
    assert_eq!(digits.len(), 1797);
    // The class counts of scikit-learn's `load_digits`.
    assert_eq!(
        digits.class_counts(),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let pixels = digits.features().iter().flatten();
    assert!(pixels
        .clone()
        .all(|&p| (0.0..=16.0).contains(&p) && p.fract() == 0.0));
    assert_eq!(pixels.fold(0.0f64, |m, &p| m.max(p)), 16.0);
}

#[test]
fn shipped_files_are_attributed_in_their_readme() {
    let readme = std::fs::read_to_string(shipped("README.md")).unwrap();
    assert!(readme.contains("CC BY 4.0"));
    for name in ["iris.csv", "digits.csv"] {
        assert!(readme.contains(name), "the README names {name}");
    }
}

// ---------------------------------------------------------------------- CSV

#[test]
fn csv_reads_features_and_labels_in_file_order() {
    let data = csv::<2, 3>("x,y,label\n1.5, -2 ,2\n\n3e2,4,0.0\n").unwrap();
    assert_eq!(data.features(), &[[1.5, -2.0], [300.0, 4.0]]);
    assert_eq!(data.labels(), &[2, 0]);
}

#[test]
fn csv_label_column_can_be_first_an_index_or_named() {
    let text = "label,a,b\n1,10,20\n0,30,40\n";
    let mut options = CsvOptions {
        label_column: LabelColumn::First,
        ..CsvOptions::default()
    };
    let first = Dataset::<f64, 2, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap();
    assert_eq!(first.features(), &[[10.0, 20.0], [30.0, 40.0]]);
    assert_eq!(first.labels(), &[1, 0]);
    options.label_column = LabelColumn::Named("label".into());
    let named = Dataset::<f64, 2, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap();
    assert_eq!(named, first);
    options.label_column = LabelColumn::Index(1);
    let middle =
        Dataset::<f64, 2, 31>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap();
    assert_eq!(middle.features(), &[[1.0, 20.0], [0.0, 40.0]]);
    assert_eq!(middle.labels(), &[10, 30]);
}

#[test]
fn csv_without_header_reads_the_first_line_as_data() {
    let options = CsvOptions {
        has_header: false,
        delimiter: b';',
        ..CsvOptions::default()
    };
    let data =
        Dataset::<f32, 1, 2>::from_csv_reader("1;0\n2;1\n".as_bytes(), "t.csv", &options).unwrap();
    assert_eq!(data.features(), &[[1.0], [2.0]]);
    assert_eq!(data.labels(), &[0, 1]);
}

#[test]
fn csv_wrong_column_count_names_file_line_and_counts() {
    let err = csv::<2, 3>("a,b,label\n1,2,0\n1,2,3,0\n").unwrap_err();
    match &err {
        DataError::ColumnCount {
            path,
            line,
            expected,
            found,
            ..
        } => {
            assert_eq!(path, Path::new("test.csv"));
            assert_eq!((*line, *expected, *found), (3, 3, 4));
        }
        other => panic!("expected ColumnCount, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("test.csv: line 3: expected 3 columns"),
        "{err}"
    );
}

#[test]
fn csv_bad_or_non_finite_number_names_line_column_and_text() {
    for (text, bad) in [
        ("a,b,l\n1,2,0\n1,x7,1\n", "x7"),
        ("a,b,l\n1,2,0\n1,NaN,1\n", "NaN"),
        ("a,b,l\n1,2,0\n1,inf,1\n", "inf"),
        ("a,b,l\n1,2,0\n1,,1\n", ""),
    ] {
        match csv::<2, 3>(text).unwrap_err() {
            DataError::BadNumber {
                line, column, text, ..
            } => assert_eq!((line, column, text.as_str()), (3, 2, bad)),
            other => panic!("expected BadNumber, got {other:?}"),
        }
    }
}

#[test]
fn csv_number_too_large_for_f32_is_rejected() {
    let text = "a,l\n1e300,0\n";
    let options = CsvOptions::default();
    let err =
        Dataset::<f32, 1, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadNumber {
                line: 2,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // The same value is fine in f64.
    assert!(Dataset::<f64, 1, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).is_ok());
}

#[test]
fn csv_label_out_of_range_negative_or_fractional_is_rejected() {
    for label in ["3", "-1", "1.5", "two", "3.0", ""] {
        let text = format!("a,l\n1,0\n2,{label}\n");
        match csv::<1, 3>(&text).unwrap_err() {
            DataError::BadLabel {
                line,
                text,
                classes,
                ..
            } => assert_eq!((line, text.as_str(), classes), (3, label, 3)),
            other => panic!("label {label}: expected BadLabel, got {other:?}"),
        }
    }
    assert_eq!(csv::<1, 3>("a,l\n1,2.0\n").unwrap().labels(), &[2]);
}

#[test]
fn csv_empty_or_header_only_is_an_error() {
    assert!(matches!(
        csv::<1, 2>("").unwrap_err(),
        DataError::Empty { .. }
    ));
    assert!(matches!(
        csv::<1, 2>("a,label\n").unwrap_err(),
        DataError::Empty { .. }
    ));
}

#[test]
fn csv_missing_label_column_is_an_error() {
    let text = "a,label\n1,0\n";
    let options = CsvOptions {
        label_column: LabelColumn::Named("class".into()),
        ..CsvOptions::default()
    };
    let err =
        Dataset::<f64, 1, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap_err();
    assert!(matches!(err, DataError::NoLabelColumn { .. }), "{err:?}");
    let options = CsvOptions {
        label_column: LabelColumn::Index(2),
        ..CsvOptions::default()
    };
    let err =
        Dataset::<f64, 1, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap_err();
    assert!(matches!(err, DataError::NoLabelColumn { .. }), "{err:?}");
}

#[test]
fn csv_invalid_utf8_is_a_csv_error_not_a_panic() {
    let bytes: &[u8] = b"a,label\n1,0\n\xff\xfe,1\n";
    let err =
        Dataset::<f64, 1, 2>::from_csv_reader(bytes, "t.csv", &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Csv { line: 3, .. }), "{err:?}");
}

#[test]
fn csv_missing_file_names_the_file() {
    let dir = temp_dir("missing-csv");
    let path = dir.path().join("nope.csv");
    let err = Dataset::<f64, 4, 3>::from_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.csv"), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");
}

// ------------------------------------------------------------- construction

#[test]
fn new_checks_lengths_labels_and_finiteness() {
    assert!(matches!(
        Dataset::<f64, 1, 2>::new(vec![[1.0]], vec![0, 1]),
        Err(DataError::LengthMismatch {
            features: 1,
            labels: 2
        })
    ));
    assert!(matches!(
        Dataset::<f64, 1, 2>::new(vec![[1.0], [2.0]], vec![0, 2]),
        Err(DataError::LabelOutOfRange {
            row: 1,
            label: 2,
            classes: 2
        })
    ));
    assert!(matches!(
        Dataset::<f64, 2, 2>::new(vec![[1.0, 0.0], [2.0, f64::NAN]], vec![0, 1]),
        Err(DataError::NonFiniteFeature { row: 1, column: 1 })
    ));
}

#[test]
fn one_hot_get_and_subset() {
    let data = Dataset::<f64, 1, 3>::new(vec![[0.0], [1.0], [2.0]], vec![2, 0, 1]).unwrap();
    assert_eq!(data.one_hot(0), Some([0.0, 0.0, 1.0]));
    assert_eq!(data.one_hot(3), None);
    let sub = data.subset(&[2, 2, 0]).unwrap();
    assert_eq!(sub.features(), &[[2.0], [2.0], [0.0]]);
    assert_eq!(sub.labels(), &[1, 1, 2]);
    assert!(matches!(
        data.subset(&[3]),
        Err(DataError::RowOutOfRange { row: 3, rows: 3 })
    ));
}

#[test]
fn scale_multiplies_every_feature() {
    let mut data = Dataset::<f64, 2, 2>::new(vec![[16.0, 8.0], [0.0, 4.0]], vec![0, 1]).unwrap();
    data.scale(1.0 / 16.0).unwrap();
    assert_eq!(data.features(), &[[1.0, 0.5], [0.0, 0.25]]);
}

// ---------------------------------------------------------- shuffle and split

/// A dataset whose feature is the row number, so rows can be traced.
fn numbered(rows: usize) -> Dataset<f64, 1, 3> {
    Dataset::new(
        (0..rows).map(|i| [i as f64]).collect(),
        (0..rows).map(|i| i % 3).collect(),
    )
    .unwrap()
}

fn row_ids(data: &Dataset<f64, 1, 3>) -> Vec<usize> {
    data.features().iter().map(|r| r[0] as usize).collect()
}

#[test]
fn shuffle_is_a_seeded_permutation_that_keeps_labels_with_their_rows() {
    let mut a = numbered(30);
    let mut b = numbered(30);
    a.shuffle(5);
    b.shuffle(5);
    assert_eq!(a, b, "same seed, same order");
    let ids = row_ids(&a);
    assert_ne!(ids, (0..30).collect::<Vec<_>>(), "the order changed");
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..30).collect::<Vec<_>>(), "a permutation");
    for (id, &label) in ids.iter().zip(a.labels()) {
        assert_eq!(label, id % 3, "row {id} kept its label");
    }
    let mut c = numbered(30);
    c.shuffle(6);
    assert_ne!(a, c, "another seed, another order");
}

#[test]
fn split_partitions_the_rows_reproducibly() {
    let (train, test) = numbered(50).split(0.2, 1).unwrap();
    assert_eq!((train.len(), test.len()), (40, 10));
    let mut all = [row_ids(&train), row_ids(&test)].concat();
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>(), "every row exactly once");
    let (train2, test2) = numbered(50).split(0.2, 1).unwrap();
    assert_eq!(row_ids(&train), row_ids(&train2));
    assert_eq!(row_ids(&test), row_ids(&test2));
    let (_, test3) = numbered(50).split(0.2, 2).unwrap();
    assert_ne!(row_ids(&test3), row_ids(&test2));
}

#[test]
fn stratified_split_keeps_class_proportions() {
    let iris = Dataset::<f64, 4, 3>::from_csv(shipped("iris.csv"), &CsvOptions::default()).unwrap();
    let (train, test) = iris.stratified_split(0.2, 3).unwrap();
    assert_eq!(test.class_counts(), [10, 10, 10]);
    assert_eq!(train.class_counts(), [40, 40, 40]);
    // Shuffled: the test labels are not grouped by class.
    assert!(test.labels().windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn split_fractions_that_leave_a_side_empty_are_errors() {
    for fraction in [0.0, 1.0, -0.5, 1.5, f64::NAN, 0.001, 0.999] {
        assert!(
            matches!(
                numbered(10).split(fraction, 0),
                Err(DataError::BadSplit { .. })
            ),
            "fraction {fraction}"
        );
        assert!(
            matches!(
                numbered(10).stratified_split(fraction, 0),
                Err(DataError::BadSplit { .. })
            ),
            "fraction {fraction}"
        );
    }
}

#[test]
fn shuffler_reshuffles_in_place_reproducibly() {
    let mut a = Shuffler::new(20, 9);
    let mut b = Shuffler::new(20, 9);
    assert_eq!(a.order(), (0..20).collect::<Vec<_>>().as_slice());
    let first = a.shuffle().to_vec();
    assert_eq!(first, b.shuffle());
    let second = a.shuffle().to_vec();
    assert_ne!(first, second, "a new order each epoch");
    let mut sorted = second.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>());
}

// ----------------------------------------------------------------- batching

#[test]
fn fill_batch_copies_the_named_rows_and_labels() {
    let data = Dataset::<f64, 2, 3>::new(
        vec![[0.0, 0.5], [1.0, 1.5], [2.0, 2.5], [3.0, 3.5]],
        vec![1, 2, 0, 1],
    )
    .unwrap();
    let mut x = Matrix::<f64, 3, 2>::filled(-1.0);
    let mut y = ClassLabels::<3, 3>::new([0; 3]).unwrap();
    data.fill_batch(&[3, 0, 2], &mut x, &mut y).unwrap();
    assert_eq!(x, Matrix::from_rows([[3.0, 3.5], [0.0, 0.5], [2.0, 2.5]]));
    assert_eq!(y.as_array(), &[1, 1, 0]);

    let mut one_hot = Matrix::<f64, 3, 3>::filled(7.0);
    data.fill_batch_one_hot(&[1, 2, 3], &mut x, &mut one_hot)
        .unwrap();
    assert_eq!(x, Matrix::from_rows([[1.0, 1.5], [2.0, 2.5], [3.0, 3.5]]));
    assert_eq!(
        one_hot,
        Matrix::from_rows([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    );
    // The one-hot rows and the class labels are the same targets.
    let labels = ClassLabels::<3, 3>::new([2, 0, 1]).unwrap();
    for i in 0..3 {
        for j in 0..3 {
            assert_eq!(Targets::<f64, 3, 3>::value(&labels, i, j), one_hot[(i, j)]);
        }
    }
}

#[test]
fn fill_batch_rejects_wrong_counts_and_rows_past_the_end() {
    let data = numbered(5);
    let mut x = Matrix::<f64, 2, 1>::zeros();
    let mut y = ClassLabels::<2, 3>::new([0; 2]).unwrap();
    assert!(matches!(
        data.fill_batch(&[0], &mut x, &mut y),
        Err(DataError::BatchSize {
            expected: 2,
            found: 1
        })
    ));
    assert!(matches!(
        data.fill_batch(&[0, 5], &mut x, &mut y),
        Err(DataError::RowOutOfRange { row: 5, rows: 5 })
    ));
    let mut one_hot = Matrix::<f64, 2, 3>::zeros();
    assert!(matches!(
        data.fill_batch_one_hot(&[0, 1, 2], &mut x, &mut one_hot),
        Err(DataError::BatchSize {
            expected: 2,
            found: 3
        })
    ));
}

#[test]
fn an_epoch_of_whole_batches_drops_only_the_tail() {
    let data = numbered(10);
    assert_eq!(data.batch_count::<4>(Tail::Drop), 2);
    assert_eq!(data.batch_count::<4>(Tail::Keep), 3);
    assert_eq!(data.batch_count::<5>(Tail::Keep), 2);
    let mut shuffler = Shuffler::new(data.len(), 1);
    let mut x = Matrix::<f64, 4, 1>::zeros();
    let mut y = ClassLabels::<4, 3>::new([0; 4]).unwrap();
    let mut seen = Vec::new();
    let chunks = shuffler.shuffle().chunks_exact(4);
    let tail = chunks.remainder().to_vec();
    for rows in chunks {
        data.fill_batch(rows, &mut x, &mut y).unwrap();
        seen.extend(x.as_slice().iter().map(|&v| v as usize));
    }
    assert_eq!(seen.len(), 8);
    assert_eq!(tail.len(), 2);
    seen.extend(&tail);
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

// ------------------------------------------------------------ standardising

#[test]
fn standardizer_uses_train_statistics_computed_by_hand() {
    // Feature 0: 1, 2, 3 → mean 2, population std √(2/3). Feature 1 constant 5.
    let mut train =
        Dataset::<f64, 2, 2>::new(vec![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]], vec![0, 1, 0]).unwrap();
    let mut test = Dataset::<f64, 2, 2>::new(vec![[5.0, 7.0]], vec![1]).unwrap();
    let s = Standardizer::fit(&train);
    let std = (2.0f64 / 3.0).sqrt();
    assert_eq!(s.mean(), &[2.0, 5.0]);
    assert!((s.scale()[0] - std).abs() < 1e-15);
    assert_eq!(s.scale()[1], 1.0, "a constant feature is only centred");
    s.apply(&mut train).unwrap();
    s.apply(&mut test).unwrap();
    let expected = [-1.0 / std, 0.0, 1.0 / std];
    for (row, e) in train.features().iter().zip(expected) {
        assert!((row[0] - e).abs() < 1e-12);
        assert_eq!(row[1], 0.0);
    }
    assert!((test.features()[0][0] - 3.0 / std).abs() < 1e-12);
    assert_eq!(test.features()[0][1], 2.0);
}

#[test]
fn standardized_iris_train_split_has_mean_zero_and_unit_variance() {
    let iris = Dataset::<f64, 4, 3>::from_csv(shipped("iris.csv"), &CsvOptions::default()).unwrap();
    let (mut train, _) = iris.split(0.3, 4).unwrap();
    Standardizer::fit(&train).apply(&mut train).unwrap();
    let n = train.len() as f64;
    for j in 0..4 {
        let mean = train.features().iter().map(|r| r[j]).sum::<f64>() / n;
        let var = train
            .features()
            .iter()
            .map(|r| (r[j] - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 1e-12, "feature {j} mean {mean}");
        assert!((var - 1.0).abs() < 1e-12, "feature {j} variance {var}");
    }
}

// ---------------------------------------------------------------------- IDX

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0000_0803u32, count, rows, cols] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0000_0801u32, labels.len() as u32] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend_from_slice(labels);
    bytes
}

/// Writes an images and a labels file; returns their paths.
fn write_idx(dir: &Path, images: &[u8], labels: &[u8]) -> (PathBuf, PathBuf) {
    let (i, l) = (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
    std::fs::write(&i, images).unwrap();
    std::fs::write(&l, labels).unwrap();
    (i, l)
}

#[test]
fn idx_pair_loads_with_pixels_scaled_to_unit_interval() {
    let dir = temp_dir("idx-ok");
    // Three 2×2 images.
    let pixels = [0, 255, 51, 102, 255, 255, 255, 255, 0, 0, 0, 1];
    let (i, l) = write_idx(
        dir.path(),
        &idx_images(3, 2, 2, &pixels),
        &idx_labels(&[7, 0, 9]),
    );
    let data = Dataset::<f64, 4, 10>::from_idx(&i, &l, None).unwrap();
    assert_eq!(data.labels(), &[7, 0, 9]);
    let close = |a: &[f64; 4], b: [f64; 4]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-15);
    assert!(close(&data.features()[0], [0.0, 1.0, 0.2, 0.4]));
    assert!(close(&data.features()[1], [1.0; 4]));
    assert!(close(&data.features()[2], [0.0, 0.0, 0.0, 1.0 / 255.0]));
    let f32_data = Dataset::<f32, 4, 10>::from_idx(&i, &l, None).unwrap();
    assert_eq!(f32_data.features()[1], [1.0f32; 4]);
    assert!((f32_data.features()[0][2] - 0.2).abs() < 1e-7);
}

fn idx_problem(result: Result<Dataset<f64, 4, 10>, DataError>) -> IdxProblem {
    match result {
        Err(DataError::Idx { problem, .. }) => problem,
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn idx_bad_magic_is_reported_with_both_numbers() {
    let dir = temp_dir("idx-magic");
    // A labels file given as images.
    let (i, l) = write_idx(dir.path(), &idx_labels(&[1, 2, 3]), &idx_labels(&[1]));
    let problem = idx_problem(Dataset::from_idx(&i, &l, None));
    assert!(
        matches!(
            problem,
            IdxProblem::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{problem:?}"
    );
    // An images file given as labels.
    let images = idx_images(1, 2, 2, &[1, 2, 3, 4]);
    let (i, l) = write_idx(dir.path(), &images, &images);
    let problem = idx_problem(Dataset::from_idx(&i, &l, None));
    assert!(
        matches!(
            problem,
            IdxProblem::BadMagic {
                found: 0x803,
                expected: 0x801,
                ..
            }
        ),
        "{problem:?}"
    );
    // A gzip file (the usual MNIST download, not uncompressed).
    let (i, l) = write_idx(
        dir.path(),
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0],
        &images,
    );
    let problem = idx_problem(Dataset::from_idx(&i, &l, None));
    assert!(
        matches!(
            problem,
            IdxProblem::BadMagic {
                found: 0x1f8b_0800,
                ..
            }
        ),
        "{problem:?}"
    );
}

#[test]
fn idx_truncated_header_and_data_are_reported() {
    let dir = temp_dir("idx-truncated");
    let full = idx_images(2, 2, 2, &[9; 8]);
    let (i, l) = write_idx(dir.path(), &full[..10], &idx_labels(&[1, 2]));
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::TruncatedHeader {
            expected: 16,
            found: 10
        }
    );
    let (i, l) = write_idx(dir.path(), &full[..full.len() - 3], &idx_labels(&[1, 2]));
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::LengthMismatch {
            expected: 8,
            found: 5
        }
    );
    let labels = idx_labels(&[1, 2]);
    let (i, l) = write_idx(dir.path(), &full, &labels[..labels.len() - 1]);
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::LengthMismatch {
            expected: 2,
            found: 1
        }
    );
    // Trailing bytes are as wrong as missing ones.
    let mut long = full.clone();
    long.push(0);
    let (i, l) = write_idx(dir.path(), &long, &idx_labels(&[1, 2]));
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::LengthMismatch {
            expected: 8,
            found: 9
        }
    );
    // An empty file.
    let (i, l) = write_idx(dir.path(), &[], &idx_labels(&[1, 2]));
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::TruncatedHeader {
            expected: 16,
            found: 0
        }
    );
}

#[test]
fn idx_image_size_count_mismatch_and_bad_label_are_reported() {
    let dir = temp_dir("idx-mismatch");
    let (i, l) = write_idx(dir.path(), &idx_images(1, 3, 3, &[0; 9]), &idx_labels(&[1]));
    assert_eq!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::ImageSize {
            rows: 3,
            cols: 3,
            features: 4
        }
    );
    let (i, l) = write_idx(
        dir.path(),
        &idx_images(2, 2, 2, &[0; 8]),
        &idx_labels(&[1, 2, 3]),
    );
    assert!(matches!(
        Dataset::<f64, 4, 10>::from_idx(&i, &l, None),
        Err(DataError::ItemCountMismatch {
            images: 2,
            labels: 3,
            ..
        })
    ));
    let (i, l) = write_idx(
        dir.path(),
        &idx_images(2, 2, 2, &[0; 8]),
        &idx_labels(&[1, 10]),
    );
    assert!(matches!(
        Dataset::<f64, 4, 10>::from_idx(&i, &l, None),
        Err(DataError::IdxLabel {
            item: 1,
            label: 10,
            classes: 10,
            ..
        })
    ));
}

#[test]
fn idx_header_with_huge_counts_is_an_error_not_an_allocation() {
    let dir = temp_dir("idx-huge");
    let (i, l) = write_idx(
        dir.path(),
        &idx_images(u32::MAX, u32::MAX, u32::MAX, &[0; 4]),
        &idx_labels(&[1]),
    );
    assert!(matches!(
        idx_problem(Dataset::from_idx(&i, &l, None)),
        IdxProblem::LengthMismatch { found: 4, .. }
    ));
}

#[test]
fn missing_mnist_says_which_file_and_what_to_run() {
    let dir = temp_dir("mnist-missing");
    let err = mnist::train::<f32>(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("train-images-idx3-ubyte"), "{message}");
    assert!(message.contains("scripts/fetch-mnist"), "{message}");
}

#[test]
fn corrupt_mnist_says_what_to_run() {
    let dir = temp_dir("mnist-corrupt");
    std::fs::write(
        dir.path().join("t10k-images-idx3-ubyte"),
        idx_images(2, 28, 28, &[0; 100]),
    )
    .unwrap();
    let err = mnist::test::<f32>(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Idx { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("t10k-images-idx3-ubyte"), "{message}");
    assert!(message.contains("scripts/fetch-mnist"), "{message}");
}

/// The real files, when `scripts/fetch-mnist` has been run.
#[test]
fn real_mnist_has_the_published_sizes_and_class_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/mnist");
    if !dir.join(mnist::TEST_FILES[0]).exists() {
        println!(
            "skipped: no MNIST in {} (run scripts/fetch-mnist)",
            dir.display()
        );
        return;
    }
    let test = mnist::test::<f32>(&dir).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let max = test
        .features()
        .iter()
        .flatten()
        .fold(0.0f32, |m, &p| m.max(p));
    assert_eq!(max, 1.0);
    // The training files through the raw readers (converting 47 million
    // pixels would slow a debug test run; the conversion is the one above).
    let images = read_idx_images(&dir.join(mnist::TRAIN_FILES[0]), None).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (60_000, 28, 28));
    let labels = read_idx_labels(&dir.join(mnist::TRAIN_FILES[1]), None).unwrap();
    let mut counts = [0usize; 10];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(labels[..5], [5, 0, 4, 1, 9], "the first training digits");
}

// --------------------------------------------------------------- regression

#[test]
fn regression_csv_reads_the_last_out_columns_as_targets() {
    let text = "a,b,c,y1,y2\n1,2,3,0.5,-1\n4,5,6,1e-3,2\n";
    let data = RegressionDataset::<f64, 3, 2>::from_csv_reader(
        text.as_bytes(),
        "r.csv",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(data.features(), &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    assert_eq!(data.targets(), &[[0.5, -1.0], [1e-3, 2.0]]);
    // The targets first, or from a named column on.
    for label_column in [LabelColumn::First, LabelColumn::Named("a".into())] {
        let options = CsvOptions {
            label_column,
            ..CsvOptions::default()
        };
        let data =
            RegressionDataset::<f64, 3, 2>::from_csv_reader(text.as_bytes(), "r.csv", &options)
                .unwrap();
        assert_eq!(data.targets(), &[[1.0, 2.0], [4.0, 5.0]]);
        assert_eq!(data.features(), &[[3.0, 0.5, -1.0], [6.0, 1e-3, 2.0]]);
    }
    // A target block that would run past the last column.
    let options = CsvOptions {
        label_column: LabelColumn::Named("y2".into()),
        ..CsvOptions::default()
    };
    assert!(matches!(
        RegressionDataset::<f64, 3, 2>::from_csv_reader(text.as_bytes(), "r.csv", &options),
        Err(DataError::NoLabelColumn { .. })
    ));
}

#[test]
fn regression_csv_errors_name_line_and_column() {
    let options = CsvOptions::default();
    let bad_target = "a,y1,y2\n1,2,3\n1,2,x\n";
    match RegressionDataset::<f64, 1, 2>::from_csv_reader(bad_target.as_bytes(), "r.csv", &options)
    {
        Err(DataError::BadNumber {
            line, column, text, ..
        }) => assert_eq!((line, column, text.as_str()), (3, 3, "x")),
        other => panic!("expected BadNumber, got {other:?}"),
    }
    let short = "a,y1,y2\n1,2\n";
    match RegressionDataset::<f64, 1, 2>::from_csv_reader(short.as_bytes(), "r.csv", &options) {
        Err(DataError::ColumnCount {
            line,
            expected,
            label_columns,
            found,
            ..
        }) => assert_eq!((line, expected, label_columns, found), (2, 3, 2, 2)),
        other => panic!("expected ColumnCount, got {other:?}"),
    }
}

#[test]
fn regression_new_checks_lengths_and_finiteness() {
    assert!(matches!(
        RegressionDataset::<f64, 1, 1>::new(vec![[1.0]], vec![]),
        Err(DataError::LengthMismatch { .. })
    ));
    assert!(matches!(
        RegressionDataset::<f64, 1, 2>::new(
            vec![[1.0], [2.0]],
            vec![[0.0, 1.0], [f64::INFINITY, 0.0]]
        ),
        Err(DataError::NonFiniteTarget { row: 1, column: 0 })
    ));
    assert!(matches!(
        RegressionDataset::<f64, 1, 1>::new(vec![[f64::NAN]], vec![[0.0]]),
        Err(DataError::NonFiniteFeature { row: 0, column: 0 })
    ));
}

#[test]
fn regression_split_batches_and_standardizes() {
    // y = 2x: every row keeps its target through shuffles and splits.
    let data = RegressionDataset::<f64, 1, 1>::new(
        (0..20).map(|i| [i as f64]).collect(),
        (0..20).map(|i| [2.0 * i as f64]).collect(),
    )
    .unwrap();
    let (mut train, test) = data.split(0.25, 3).unwrap();
    assert_eq!((train.len(), test.len()), (15, 5));
    let mut ids: Vec<usize> = train
        .features()
        .iter()
        .chain(test.features())
        .map(|r| r[0] as usize)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    let mut x = Matrix::<f64, 3, 1>::zeros();
    let mut y = Matrix::<f64, 3, 1>::zeros();
    train.fill_batch(&[4, 0, 9], &mut x, &mut y).unwrap();
    for i in 0..3 {
        assert_eq!(y[(i, 0)], 2.0 * x[(i, 0)]);
    }
    assert!(matches!(
        train.fill_batch(&[0, 1, 15], &mut x, &mut y),
        Err(DataError::RowOutOfRange { row: 15, rows: 15 })
    ));
    let targets_before = train.targets().to_vec();
    let s = Standardizer::fit_rows(train.features());
    train.standardize(&s).unwrap();
    assert_eq!(
        train.targets(),
        targets_before.as_slice(),
        "targets untouched"
    );
    let mean = train.features().iter().map(|r| r[0]).sum::<f64>() / 15.0;
    assert!(mean.abs() < 1e-12);
    let mut shuffled = train.clone();
    shuffled.shuffle(1);
    assert_ne!(shuffled, train);
    let x_of = |d: &RegressionDataset<f64, 1, 1>| {
        let mut v: Vec<(u64, u64)> = d
            .features()
            .iter()
            .zip(d.targets())
            .map(|(x, y)| (x[0].to_bits(), y[0].to_bits()))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(x_of(&shuffled), x_of(&train), "same (x, y) pairs");
}

// --------------------------------------------- hostile input (issue 12, 12–15)

#[test]
fn a_label_column_index_past_any_width_is_an_error_not_an_overflow() {
    let text = "a,b,l\n1,2,0\n3,4,1\n";
    for index in [usize::MAX, usize::MAX - 1, 3, 1 << 40] {
        let options = CsvOptions {
            label_column: LabelColumn::Index(index),
            ..CsvOptions::default()
        };
        let err =
            Dataset::<f64, 2, 3>::from_csv_reader(text.as_bytes(), "t.csv", &options).unwrap_err();
        assert!(
            matches!(err, DataError::NoLabelColumn { .. }),
            "{index}: {err:?}"
        );
        // Two target columns starting at `index`: the sum overflowed and a
        // release build returned Ok with zero targets and two columns dropped.
        let err =
            RegressionDataset::<f64, 1, 2>::from_csv_reader(text.as_bytes(), "t.csv", &options)
                .unwrap_err();
        assert!(
            matches!(err, DataError::NoLabelColumn { .. }),
            "{index}: {err:?}"
        );
    }
}

#[test]
fn a_huge_bad_field_is_quoted_short_in_the_error() {
    let field = "7".repeat(20_000) + "x";
    let text = format!("a,l\n{field},0\n");
    let err = csv::<1, 2>(&text).unwrap_err();
    let message = err.to_string();
    assert!(
        message.len() < 300,
        "{} bytes: {}",
        message.len(),
        &message[..300]
    );
    match err {
        DataError::BadNumber {
            line, column, text, ..
        } => {
            assert_eq!((line, column), (2, 1));
            assert!(
                text.starts_with("777") && text.ends_with("(20001 bytes)"),
                "{text}"
            );
        }
        other => panic!("expected BadNumber, got {other:?}"),
    }
    let label = "9".repeat(20_000);
    let err = csv::<1, 2>(&format!("a,l\n1,{label}\n")).unwrap_err();
    assert!(matches!(err, DataError::BadLabel { .. }), "{err:?}");
    assert!(err.to_string().len() < 300, "{err}");
}

/// A reader of one endless line `1,1,1,…` that counts the bytes read.
struct EndlessLine {
    served: std::rc::Rc<std::cell::Cell<usize>>,
    limit: usize,
}

impl std::io::Read for EndlessLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.limit - self.served.get();
        let n = buf.len().min(left);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = b"1,"[(self.served.get() + i) % 2];
        }
        self.served.set(self.served.get() + n);
        Ok(n)
    }
}

#[test]
fn a_line_far_longer_than_a_record_stops_early() {
    let served = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader = EndlessLine {
        served: served.clone(),
        limit: 50 << 20,
    };
    let options = CsvOptions {
        has_header: false,
        ..CsvOptions::default()
    };
    let err = Dataset::<f64, 4, 3>::from_csv_reader(reader, "long.csv", &options).unwrap_err();
    match &err {
        DataError::LineTooLong { line, limit, .. } => {
            assert_eq!(*line, 1);
            assert!(*limit < 1 << 20, "{limit}");
        }
        other => panic!("expected LineTooLong, got {other:?}"),
    }
    // Before the fix the whole 50 MB line was read (and held) before the
    // column count was checked.
    assert!(served.get() < 2 << 20, "read {} bytes", served.get());
    assert!(err.to_string().contains("long.csv"), "{err}");
}

#[test]
fn standardizing_extreme_finite_features_stays_finite() {
    // f32: the deviation −3.4e38 − 1.13e38 overflowed f32.
    let mut data =
        Dataset::<f32, 1, 2>::new(vec![[3.4e38], [3.4e38], [-3.4e38]], vec![0, 1, 0]).unwrap();
    let s = Standardizer::fit(&data);
    assert!(s.mean()[0].is_finite() && s.scale()[0].is_finite());
    s.apply(&mut data).unwrap();
    // Mean 1.1333e38, std 3.2059e38 (by hand: deviations 2.2667e38 twice and
    // −4.5333e38, variance (2·2.2667² + 4.5333²)/3 · 1e76): z = 0.7071, 0.7071, −1.4142.
    let z: Vec<f32> = data.features().iter().map(|r| r[0]).collect();
    for (got, want) in z
        .iter()
        .zip([0.5f32.sqrt(), 0.5f32.sqrt(), -(2.0f32.sqrt())])
    {
        assert!((got - want).abs() < 1e-5, "{z:?}");
    }
    // f64: the sum 1.7e308 + 1.7e308 overflowed f64.
    let mut data = Dataset::<f64, 1, 2>::new(vec![[1.7e308], [1.7e308]], vec![0, 1]).unwrap();
    let s = Standardizer::fit(&data);
    assert_eq!(s.mean(), &[1.7e308]);
    s.apply(&mut data).unwrap();
    assert_eq!(data.features(), &[[0.0], [0.0]]);
    let mut wide = Dataset::<f64, 1, 2>::new(vec![[1.7e308], [-1.7e308]], vec![0, 1]).unwrap();
    let s = Standardizer::fit(&wide);
    assert_eq!((s.mean()[0], s.scale()[0]), (0.0, 1.7e308));
    s.apply(&mut wide).unwrap();
    assert_eq!(wide.features(), &[[1.0], [-1.0]]);
}

#[test]
fn standardizing_rows_that_would_overflow_is_an_error_that_changes_nothing() {
    // Fitted on values 2e-11 apart (std 1e-11), applied to a row 1e30 away:
    // z = 1e41 does not fit in f32.
    let train = Dataset::<f32, 1, 2>::new(vec![[0.0], [2e-11]], vec![0, 1]).unwrap();
    let s = Standardizer::fit(&train);
    let mut test = Dataset::<f32, 1, 2>::new(vec![[1.0], [1e30]], vec![0, 1]).unwrap();
    let before = test.clone();
    let err = s.apply(&mut test).unwrap_err();
    assert!(
        matches!(err, DataError::NonFiniteFeature { row: 1, column: 0 }),
        "{err:?}"
    );
    assert_eq!(test, before, "nothing changed");
    let mut row = [1e30f32];
    assert!(s.apply_row(&mut row).is_err());
    assert_eq!(row, [1e30]);
}

#[test]
fn scale_checks_before_it_changes_anything() {
    let mut data = Dataset::<f32, 2, 2>::new(vec![[1.0, 2.0], [1e30, 3.0]], vec![0, 1]).unwrap();
    let before = data.clone();
    let err = data.scale(1e30).unwrap_err();
    assert!(
        matches!(err, DataError::NonFiniteFeature { row: 1, column: 0 }),
        "{err:?}"
    );
    assert_eq!(data, before);
    let err = data.scale(f32::NAN).unwrap_err();
    assert!(matches!(err, DataError::BadScale { .. }), "{err:?}");
    assert_eq!(data, before);
    data.scale(0.5).unwrap();
    assert_eq!(data.features(), &[[0.5, 1.0], [5e29, 1.5]]);
}

#[test]
fn a_dataset_has_at_least_one_row() {
    assert!(matches!(
        Dataset::<f64, 2, 2>::new(Vec::new(), Vec::new()),
        Err(DataError::NoRows)
    ));
    assert!(matches!(
        RegressionDataset::<f64, 2, 1>::new(Vec::new(), Vec::new()),
        Err(DataError::NoRows)
    ));
    let data = Dataset::<f64, 1, 2>::new(vec![[1.0]], vec![0]).unwrap();
    assert!(matches!(data.subset(&[]), Err(DataError::NoRows)));
}

#[test]
fn an_idx_file_of_zero_images_is_an_error() {
    let dir = temp_dir("idx-empty");
    let (images, labels) = write_idx(dir.path(), &idx_images(0, 2, 2, &[]), &idx_labels(&[]));
    let err = Dataset::<f64, 4, 10>::from_idx(&images, &labels, None).unwrap_err();
    match &err {
        DataError::Empty { path, .. } => assert_eq!(path, &images),
        other => panic!("expected Empty, got {other:?}"),
    }
}

#[test]
fn a_shuffler_started_at_an_epoch_gives_that_epochs_order() {
    let mut run = Shuffler::new(50, 4);
    let orders: Vec<Vec<usize>> = (0..6).map(|_| run.shuffle().to_vec()).collect();
    for (epoch, order) in orders.iter().enumerate() {
        let mut resumed = Shuffler::at_epoch(50, 4, epoch as u64);
        assert_eq!(resumed.next_epoch(), epoch as u64);
        assert_eq!(resumed.shuffle(), order.as_slice(), "epoch {epoch}");
        // The same order does not come back: epochs differ from each other.
        assert!(orders.iter().filter(|o| *o == order).count() == 1);
    }
    assert_eq!(run.next_epoch(), 6);
}
