//! `fer evaluate --choose-tta --record`: the protocol's choice of test-time augmentation and
//! what every candidate scores on each split, written into the checkpoint's `metrics.json`
//! under [`TTA_FIELD`], so the TTA figures a model card states come from a file the code wrote.
//!
//! The choice is made on PublicTest alone ([`choose_tta`]); PrivateTest and Kaggle's `test/`
//! (the two together) are scored with every candidate only so the record backs each figure of
//! the card's TTA table, and the chosen one is the headline. The rest of `metrics.json` is kept
//! as it was, byte for byte: the file's other top-level entries are carried over as raw JSON
//! text, in their order, and the whole file is replaced atomically.

use std::path::Path;
use std::time::Instant;

use ndarray::{concatenate, Array2, Axis};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use fer_core::cnn::tta::{choose_tta, TTA_CANDIDATES};
use fer_core::cnn::{CnnModel, Tta};
use fer_core::data::Dataset;
use fer_core::eval::Evaluation;
use fer_core::{Emotion, FerError, Result, Usage};

use crate::evaluate::tta_fields;

/// The top-level field of `metrics.json` that holds a [`TtaRecord`].
pub const TTA_FIELD: &str = "tta";

/// What [`TTA_FIELD`] holds: how the TTA was chosen, and every candidate's scores.
#[derive(Debug, Serialize)]
pub struct TtaRecord {
    /// The command that wrote the record.
    command: &'static str,
    /// The split the choice was made on: always "public_test".
    chosen_on: &'static str,
    /// The chosen TTA: "none", "flip" or "crops".
    tta_mode: &'static str,
    /// The chosen crop TTA's shift in pixels (null otherwise).
    tta_shift: Option<usize>,
    /// Every candidate, in the order scored (cheapest first; of equals the first is chosen).
    candidates: Vec<CandidateScores>,
    /// Wall time of the scoring, in seconds.
    seconds: f64,
    /// Rayon threads the inference ran on.
    threads: usize,
    /// The widest x86 vector extension the CPU has ("avx512f", "avx2" or "other"); see the
    /// shipped model's test for which figures can depend on the CPU.
    cpu: &'static str,
}

/// One candidate TTA's scores on each split.
#[derive(Debug, Serialize)]
struct CandidateScores {
    tta_mode: &'static str,
    tta_shift: Option<usize>,
    public_test: SplitScore,
    private_test: SplitScore,
    /// Kaggle's `test/`: PublicTest and PrivateTest together.
    test: SplitScore,
}

/// One split's score under one TTA.
#[derive(Debug, Serialize)]
struct SplitScore {
    samples: u64,
    /// Faces whose most probable emotion is the true one.
    correct: u64,
    accuracy: f64,
    macro_f1: f64,
}

impl SplitScore {
    fn of(evaluation: &Evaluation) -> Self {
        SplitScore {
            samples: evaluation.samples,
            correct: evaluation.confusion_matrix.correct(),
            accuracy: evaluation.accuracy,
            macro_f1: evaluation.report.macro_avg().f1,
        }
    }
}

/// Every candidate of [`TTA_CANDIDATES`] evaluated on PublicTest and PrivateTest.
pub struct ScoredCandidates {
    /// Per candidate: its evaluation on PublicTest, PrivateTest and the two together.
    scores: Vec<[Evaluation; 3]>,
    /// The protocol's choice: the most accurate on PublicTest.
    chosen: Tta,
    started: Instant,
}

/// The probabilities of `faces` under each of [`TTA_CANDIDATES`]: the one call into the CNN's
/// inference this module makes.
fn candidate_probabilities(model: &CnnModel, faces: &Dataset) -> Result<Vec<Array2<f32>>> {
    model.predict_proba_ttas(faces.faces(), &TTA_CANDIDATES)
}

impl ScoredCandidates {
    /// Scores every candidate on the PublicTest and PrivateTest faces of `test` (Kaggle's
    /// `test/`), each split classified on its own (as `fer evaluate --split` does), and makes
    /// the protocol's choice on PublicTest. Errors name the split that has no faces.
    pub fn score(model: &CnnModel, test: &Dataset, data: &Path) -> Result<Self> {
        let started = Instant::now();
        let public = test.with_usage(Usage::PublicTest);
        let private = test.with_usage(Usage::PrivateTest);
        for (faces, usage) in [(&public, Usage::PublicTest), (&private, Usage::PrivateTest)] {
            if faces.is_empty() {
                return Err(FerError::invalid_data(
                    data,
                    format!(
                        "recording the TTA needs the {} faces of test/; there are none",
                        usage.name()
                    ),
                ));
            }
        }
        let public_p = candidate_probabilities(model, &public)?;
        let private_p = candidate_probabilities(model, &private)?;
        let labels: Vec<Emotion> = public
            .labels()
            .iter()
            .chain(private.labels())
            .copied()
            .collect();
        let scores = public_p
            .iter()
            .zip(&private_p)
            .map(|(pu, pr)| {
                let both = concatenate(Axis(0), &[pu.view(), pr.view()])
                    .map_err(|e| FerError::ShapeMismatch(format!("test/ probabilities: {e}")))?;
                Ok([
                    Evaluation::new(public.labels(), pu.view())?,
                    Evaluation::new(private.labels(), pr.view())?,
                    Evaluation::new(&labels, both.view())?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        let public_scores: Vec<(Tta, f64)> = TTA_CANDIDATES
            .iter()
            .zip(&scores)
            .map(|(&tta, [public, _, _])| (tta, public.accuracy))
            .collect();
        let chosen = choose_tta(&public_scores).unwrap_or_default();
        Ok(ScoredCandidates {
            scores,
            chosen,
            started,
        })
    }

    /// The protocol's choice: the most accurate candidate on PublicTest, the first of equals.
    pub fn chosen(&self) -> Tta {
        self.chosen
    }

    /// Every candidate's PublicTest accuracy, in the order scored.
    pub fn public_test_accuracies(&self) -> Vec<(Tta, f64)> {
        TTA_CANDIDATES
            .iter()
            .zip(&self.scores)
            .map(|(&tta, [public, _, _])| (tta, public.accuracy))
            .collect()
    }

    /// The chosen TTA's evaluation on `usages`: `[PublicTest]`, `[PrivateTest]`, or both
    /// (Kaggle's `test/`); `None` for any other list.
    pub fn chosen_evaluation(&self, usages: &[Usage]) -> Option<&Evaluation> {
        let at = TTA_CANDIDATES.iter().position(|&t| t == self.chosen)?;
        let [public, private, test] = &self.scores[at];
        match usages {
            [Usage::PublicTest] => Some(public),
            [Usage::PrivateTest] => Some(private),
            [Usage::PublicTest, Usage::PrivateTest] => Some(test),
            _ => None,
        }
    }

    /// The record to write into `metrics.json`.
    pub fn record(&self) -> TtaRecord {
        let (tta_mode, tta_shift) = tta_fields(self.chosen);
        TtaRecord {
            command: "fer evaluate --choose-tta --record",
            chosen_on: "public_test",
            tta_mode,
            tta_shift,
            candidates: TTA_CANDIDATES
                .iter()
                .zip(&self.scores)
                .map(|(&tta, [public, private, test])| {
                    let (tta_mode, tta_shift) = tta_fields(tta);
                    CandidateScores {
                        tta_mode,
                        tta_shift,
                        public_test: SplitScore::of(public),
                        private_test: SplitScore::of(private),
                        test: SplitScore::of(test),
                    }
                })
                .collect(),
            seconds: self.started.elapsed().as_secs_f64(),
            threads: rayon::current_num_threads(),
            cpu: cpu_vector_extension(),
        }
    }
}

/// The widest x86 vector extension this CPU has, as [`TtaRecord::cpu`] names it.
fn cpu_vector_extension() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "avx2";
        }
    }
    "other"
}

/// A JSON object's entries as raw text, in the file's order.
struct RawEntries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = RawEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(RawEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// The entries of a metrics file with the record in [`TTA_FIELD`] (replaced if there was one,
/// else added last).
struct WithRecord<'a> {
    kept: &'a [(String, Box<RawValue>)],
    record: &'a TtaRecord,
}

impl Serialize for WithRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let mut written = false;
        for (key, value) in self.kept {
            if key == TTA_FIELD {
                map.serialize_entry(TTA_FIELD, self.record)?;
                written = true;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        if !written {
            map.serialize_entry(TTA_FIELD, self.record)?;
        }
        map.end()
    }
}

/// Writes `record` into the metrics file at `path` (a JSON object; created if missing) under
/// [`TTA_FIELD`], keeping every other entry's text, atomically: on any error the file is
/// unchanged. A file that is not a JSON object is an error naming it.
pub fn write_record(path: &Path, record: &TtaRecord) -> Result<()> {
    let kept = if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| FerError::io(path, e))?;
        serde_json::from_str::<RawEntries>(&text)
            .map_err(|source| FerError::Json {
                path: path.to_path_buf(),
                source,
            })?
            .0
    } else {
        Vec::new()
    };
    fer_core::fs::write_json_atomically(
        path,
        &WithRecord {
            kept: &kept,
            record,
        },
    )
}
