//! `CnnModel`: one of the architectures of [`Arch`] behind one interface, with the pixel
//! statistics it was trained with, so inference preprocesses exactly as training did.

use std::sync::OnceLock;

use dfdx::nn::ZeroGrads;
use dfdx::shapes::Const;
use dfdx::tensor::{Cpu, Gradients, NoneTape, OwnedTape, TensorFromVec};
use ndarray::Array2;

use super::best_model::BestModel;
use super::config::{Arch, DropoutRates, ModelConfig};
use super::folded::FoldedBest;
use super::seed_model::{SeedInput, SeedLogits, SeedModel};
use super::tta::{apply_view, Tta, View};
use crate::data::{Face, PixelStats, IMAGE_PIXELS};
use crate::error::{FerError, Result};
use crate::{Emotion, EmotionClassifier};

/// The weights of one architecture.
#[derive(Debug, Clone)]
pub enum Network {
    /// The seed's CNN.
    Seed(Box<SeedModel>),
    /// Our VGG-style network.
    Best(Box<BestModel>),
}

impl Network {
    /// A freshly initialised network of `arch`, from the device's generator.
    pub fn build(arch: Arch, device: &Cpu) -> Result<Self> {
        Ok(match arch {
            Arch::Seed => Network::Seed(Box::new(SeedModel::build(device)?)),
            Arch::Best => Network::Best(Box::new(BestModel::build(device)?)),
        })
    }

    /// Training forward pass (batch statistics, `dropout`, gradients on the tape).
    pub fn forward_train(
        &mut self,
        x: SeedInput<OwnedTape<f32, Cpu>>,
        dropout: DropoutRates,
    ) -> Result<SeedLogits<OwnedTape<f32, Cpu>>> {
        match self {
            Network::Seed(m) => m.forward_train(x, dropout),
            Network::Best(m) => m.forward_train(x, dropout),
        }
    }

    /// Inference forward pass (running statistics, no dropout, no tape).
    pub fn forward_eval(&self, x: SeedInput<NoneTape>) -> Result<SeedLogits<NoneTape>> {
        match self {
            Network::Seed(m) => m.forward_eval(x),
            Network::Best(m) => m.forward_eval(x),
        }
    }

    /// Zeroed gradients for every parameter.
    pub fn alloc_grads(&self) -> Result<Gradients<f32, Cpu>> {
        Ok(match self {
            Network::Seed(m) => m.try_alloc_grads()?,
            Network::Best(m) => m.try_alloc_grads()?,
        })
    }

    /// Zeroes `grads` for the next step.
    pub fn zero_grads(&self, grads: &mut Gradients<f32, Cpu>) -> Result<()> {
        match self {
            Network::Seed(m) => m.try_zero_grads(grads)?,
            Network::Best(m) => m.try_zero_grads(grads)?,
        }
        Ok(())
    }
}

/// Faces per inference batch: large enough for efficient convolutions, small enough that the
/// seed's activations stay well under a gigabyte.
pub const INFERENCE_BATCH: usize = 256;

/// A network with its config and the pixel statistics of its training set.
#[derive(Debug, Clone)]
pub struct CnnModel {
    /// Which architecture `network` is.
    pub config: ModelConfig,
    /// Per-pixel statistics fitted on the training split; inputs are standardised with them.
    pub stats: PixelStats,
    /// The weights: [`Self::network`], and [`Self::network_mut`] to change them.
    network: Network,
    /// The best network folded for inference, built at the first classification after the
    /// weights last changed (folding reads and rewrites every weight, so it is done once).
    folded: OnceLock<Option<FoldedBest>>,
}

impl CnnModel {
    /// A freshly initialised model of `config.arch` (seeded through `device`).
    pub fn new(config: ModelConfig, stats: PixelStats, device: &Cpu) -> Result<Self> {
        Ok(CnnModel {
            config,
            stats,
            network: Network::build(config.arch, device)?,
            folded: OnceLock::new(),
        })
    }

    /// The weights.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The weights, to train or load them (drops the copy folded for inference).
    pub fn network_mut(&mut self) -> &mut Network {
        self.folded = OnceLock::new();
        &mut self.network
    }

    /// Standardises faces given as unit-range pixels (`[n * 2304]`, values in [0, 1], as the
    /// augmentation pipeline writes them) in place with the training statistics.
    pub fn standardize_unit(&self, pixels: &mut [f32]) {
        for face in pixels.chunks_exact_mut(IMAGE_PIXELS) {
            for ((p, &m), &s) in face.iter_mut().zip(&self.stats.mean).zip(&self.stats.std) {
                *p = (*p * 255.0 - m) / s;
            }
        }
    }

    /// Logits of standardised `[n * 2304]` pixels, in eval mode, row-major `[n, 7]`.
    pub fn logits(&self, device: &Cpu, standardized: Vec<f32>) -> Result<Vec<f32>> {
        self.scorer().logits(device, standardized)
    }

    /// Class probabilities of standardised `[n * 2304]` pixels, row-major `[n, 7]`.
    pub fn probabilities(&self, device: &Cpu, standardized: Vec<f32>) -> Result<Vec<f32>> {
        self.scorer().probabilities(device, standardized)
    }

    /// The fastest way to classify with these weights: the best network folded for inference,
    /// the seed through dfdx.
    fn scorer(&self) -> Scorer<'_> {
        let folded = self.folded.get_or_init(|| match &self.network {
            Network::Best(model) => Some(FoldedBest::new(model)),
            Network::Seed(_) => None,
        });
        match folded {
            Some(folded) => Scorer::Folded(folded),
            None => Scorer::Network(&self.network),
        }
    }

    /// Class probabilities of `faces`, in batches of [`INFERENCE_BATCH`], averaged over the
    /// views of `tta` (see [`Tta`]).
    pub fn predict_proba_tta(&self, faces: &[Face], tta: Tta) -> Result<Array2<f32>> {
        tta.check()?;
        let views = self.predict_proba_views(faces, &tta.views())?;
        Ok(average(faces.len(), &views.iter().collect::<Vec<_>>()))
    }

    /// Class probabilities of `faces` in each of `views`, one `[n, 7]` array per view, in
    /// order: what a TTA averages, so TTAs that share views ([`Self::predict_proba_ttas`])
    /// classify each view once.
    pub fn predict_proba_views(&self, faces: &[Face], views: &[View]) -> Result<Vec<Array2<f32>>> {
        if faces.is_empty() {
            return Err(FerError::EmptyDataset("no faces to classify".to_string()));
        }
        let device = Cpu::default();
        let scorer = self.scorer();
        let mut per_view = vec![Vec::with_capacity(faces.len() * Emotion::COUNT); views.len()];
        let indices: Vec<usize> = (0..faces.len()).collect();
        for chunk in indices.chunks(INFERENCE_BATCH) {
            let mut x = vec![0.0f32; chunk.len() * IMAGE_PIXELS];
            for (&i, row) in chunk.iter().zip(x.chunks_exact_mut(IMAGE_PIXELS)) {
                self.stats.standardize(&faces[i], row);
            }
            for (&view, out) in views.iter().zip(&mut per_view) {
                let input = if view == View::IDENTITY {
                    x.clone()
                } else {
                    let mut moved = vec![0.0f32; x.len()];
                    for (face, out) in x
                        .chunks_exact(IMAGE_PIXELS)
                        .zip(moved.chunks_exact_mut(IMAGE_PIXELS))
                    {
                        apply_view(face, view, out);
                    }
                    moved
                };
                out.extend(scorer.probabilities(&device, input)?);
            }
        }
        per_view
            .into_iter()
            .map(|p| {
                Array2::from_shape_vec((faces.len(), Emotion::COUNT), p)
                    .map_err(|e| FerError::ShapeMismatch(format!("probabilities: {e}")))
            })
            .collect()
    }

    /// Class probabilities of `faces` under each of `candidates` (in order), as
    /// [`Self::predict_proba_tta`] gives them, with each view the TTAs share classified once:
    /// the crops include the flip's two views, which include the plain face.
    pub fn predict_proba_ttas(
        &self,
        faces: &[Face],
        candidates: &[Tta],
    ) -> Result<Vec<Array2<f32>>> {
        let mut views: Vec<View> = Vec::new();
        for tta in candidates {
            tta.check()?;
            for view in tta.views() {
                if !views.contains(&view) {
                    views.push(view);
                }
            }
        }
        let probabilities = self.predict_proba_views(faces, &views)?;
        Ok(candidates
            .iter()
            .map(|tta| {
                // In the TTA's own view order, so the sum is predict_proba_tta's bit for bit.
                let own: Vec<&Array2<f32>> = tta
                    .views()
                    .iter()
                    .filter_map(|view| views.iter().position(|v| v == view))
                    .map(|i| &probabilities[i])
                    .collect();
                average(faces.len(), &own)
            })
            .collect())
    }
}

/// What classifies standardised images for [`CnnModel`].
enum Scorer<'a> {
    /// The best network with its batch norms folded into its convolutions.
    Folded(&'a FoldedBest),
    /// Any network through its dfdx eval forward pass.
    Network(&'a Network),
}

impl Scorer<'_> {
    /// Logits of standardised `[n * 2304]` pixels, row-major `[n, 7]`.
    fn logits(&self, device: &Cpu, standardized: Vec<f32>) -> Result<Vec<f32>> {
        match self {
            Scorer::Folded(folded) => Ok(folded.logits(&standardized)),
            Scorer::Network(network) => network_logits(network, device, standardized, false),
        }
    }

    /// Class probabilities of standardised `[n * 2304]` pixels, row-major `[n, 7]`.
    fn probabilities(&self, device: &Cpu, standardized: Vec<f32>) -> Result<Vec<f32>> {
        match self {
            Scorer::Folded(folded) => Ok(folded.probabilities(&standardized)),
            Scorer::Network(network) => network_logits(network, device, standardized, true),
        }
    }
}

/// `network`'s eval-mode logits of standardised pixels, or with `softmax` their probabilities.
fn network_logits(
    network: &Network,
    device: &Cpu,
    standardized: Vec<f32>,
    softmax: bool,
) -> Result<Vec<f32>> {
    let n = standardized.len() / IMAGE_PIXELS;
    let x = device.try_tensor_from_vec(standardized, (n, Const::<1>, Const::<48>, Const::<48>))?;
    let logits = network.forward_eval(x)?;
    Ok(if softmax {
        logits.try_softmax::<dfdx::shapes::Axis<1>>()?.as_vec()
    } else {
        logits.as_vec()
    })
}

/// The mean of per-view probabilities (`[n, 7]` each), summed in order: the same bits whether
/// the views were classified for one TTA or shared by several.
fn average(n: usize, views: &[&Array2<f32>]) -> Array2<f32> {
    let mut sum = Array2::<f32>::zeros((n, Emotion::COUNT));
    for view in views {
        sum += *view;
    }
    // One view: the sum is its probabilities exactly (0 + p, times 1).
    let scale = 1.0 / views.len() as f32;
    sum.mapv_inplace(|s| s * scale);
    sum
}

impl EmotionClassifier for CnnModel {
    fn name(&self) -> String {
        format!("cnn ({})", self.config.arch.name())
    }

    fn predict_proba(&self, faces: &[Face]) -> Result<Array2<f32>> {
        self.predict_proba_tta(faces, Tta::None)
    }
}
