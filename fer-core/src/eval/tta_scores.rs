//! The accuracy of each test-time augmentation on a labelled split: what the protocol chooses a
//! TTA from (on PublicTest, never on the split it reports).

use crate::cnn::{CnnModel, Tta};
use crate::data::Dataset;
use crate::error::Result;
use crate::eval::Evaluation;

/// Accuracy on `faces` of each of `candidates`, in order, each view the candidates share
/// classified once ([`CnnModel::predict_proba_ttas`]). With
/// [`TTA_CANDIDATES`](crate::cnn::tta::TTA_CANDIDATES) on PublicTest,
/// [`choose_tta`](crate::cnn::tta::choose_tta) of the result is the protocol's choice of TTA.
pub fn score_ttas(
    model: &CnnModel,
    faces: &Dataset,
    candidates: &[Tta],
) -> Result<Vec<(Tta, f64)>> {
    let probabilities = model.predict_proba_ttas(faces.faces(), candidates)?;
    candidates
        .iter()
        .zip(&probabilities)
        .map(|(&tta, p)| Ok((tta, Evaluation::new(faces.labels(), p.view())?.accuracy)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::tta::TTA_CANDIDATES;
    use crate::cnn::{Arch, ModelConfig};
    use crate::data::{Origin, PixelStats, Usage, IMAGE_PIXELS};
    use crate::Emotion;
    use dfdx::tensor::Cpu;

    /// Each candidate's score is the accuracy of its own probabilities.
    #[test]
    fn each_score_is_its_own_tta_accuracy() {
        let mut faces = Dataset::new();
        for i in 0..14u8 {
            let mut face = [0u8; IMAGE_PIXELS];
            for (p, v) in face.iter_mut().enumerate() {
                *v = ((p % 48) * (usize::from(i % 7) + 1) + (p / 48) * 3) as u8;
            }
            let label = Emotion::from_index(usize::from(i % 7)).unwrap();
            faces.push(&face, label, Usage::PublicTest, Origin::CsvLine(i.into()));
        }
        let device = Cpu::seed_from_u64(3);
        let stats = PixelStats::fit(&faces).unwrap();
        let model = CnnModel::new(ModelConfig::new(Arch::Best), stats, &device).unwrap();
        let scores = score_ttas(&model, &faces, &TTA_CANDIDATES).unwrap();
        assert_eq!(scores.len(), TTA_CANDIDATES.len());
        for (&tta, &(scored, accuracy)) in TTA_CANDIDATES.iter().zip(&scores) {
            assert_eq!(scored, tta);
            let own = model.predict_proba_tta(faces.faces(), tta).unwrap();
            let expected = Evaluation::new(faces.labels(), own.view())
                .unwrap()
                .accuracy;
            assert_eq!(accuracy, expected, "{tta:?}");
        }
    }
}
