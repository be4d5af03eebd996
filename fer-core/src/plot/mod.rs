//! Charts ([`Figure`]: a plotly figure with a static PNG copy) and image grids, each
//! displayable in an evcxr notebook (`figure.evcxr_display()`, or a cell's last expression) and
//! savable as standalone HTML with [`save_html`] (`save_html(figure.plot(), path)`).

mod bitmap;
mod class_distribution;
mod class_metrics_bars;
mod confused_pairs_bars;
mod confusion_heatmap;
mod error_figures;
mod face_galleries;
mod face_grid;
mod faces_photo;
mod figure;
mod html;
mod learning_curve;
mod palette;
mod photo_gallery;
mod png;
mod reliability_diagram;
mod saliency;
mod training_curves;

pub use class_distribution::class_distribution;
pub use class_metrics_bars::class_metrics_bars;
pub use confused_pairs_bars::confused_pairs_bars;
pub use confusion_heatmap::confusion_heatmap;
pub use error_figures::{augmentation_preview, confidence_distribution, disagreement_gallery};
pub use face_galleries::{confident_mistakes, mean_faces, sample_faces};
pub use face_grid::FaceGrid;
pub use faces_photo::FacesPhoto;
pub use figure::Figure;
pub use html::{escape_html, save_html};
pub use learning_curve::learning_curve;
pub use photo_gallery::{photo_gallery, GALLERY_PHOTOS};
pub use reliability_diagram::reliability_diagram;
pub use saliency::SaliencyGrid;
pub use training_curves::training_curves;
