//! Test-time augmentation: each face is classified in several views (its mirror image, small
//! shifts) and the views' probabilities are averaged.
//!
//! A shifted view moves the face by whole pixels, filling the uncovered border by repeating
//! the edge pixels: the same as padding the image by edge replication and cropping a 48x48
//! window off-centre. Views are made from the standardised face (the input the network sees),
//! as the flip TTA always was, so [`Tta::Crops`] with a shift of 0 gives exactly [`Tta::Flip`].

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{FerError, Result};

/// The largest shift [`Tta::Crops`] accepts: beyond a few pixels the views cut into the face.
pub const MAX_TTA_SHIFT: usize = 8;

/// The shift `fer evaluate --tta-crops` and `fer predict --tta-crops` use when given none,
/// chosen on PublicTest with the shipped model (data/models/fer-cnn/README.md): correct of
/// 3,589 with shift 1, 2, 3: 2,505, 2,521, 2,524.
pub const DEFAULT_TTA_SHIFT: usize = 3;

/// The TTAs the protocol chooses among on PublicTest ([`choose_tta`], `fer evaluate
/// --choose-tta`), cheapest first: none, the flip, and crops shifted 1 to 3 pixels (larger
/// shifts of a 48-pixel face cut into it and have not helped).
pub const TTA_CANDIDATES: [Tta; 5] = [
    Tta::None,
    Tta::Flip,
    Tta::Crops { shift: 1 },
    Tta::Crops { shift: 2 },
    Tta::Crops { shift: 3 },
];

/// Which views of each face are classified and averaged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tta {
    /// The face alone.
    #[default]
    None,
    /// The face and its mirror image (`--tta`).
    Flip,
    /// The face shifted by `shift` pixels towards each of the four diagonals, and unshifted,
    /// each also mirrored: 10 views (`--tta-crops`).
    Crops {
        /// Pixels moved along each axis, at most [`MAX_TTA_SHIFT`].
        shift: usize,
    },
}

/// One view of a face: moved down by `dy` and right by `dx` pixels (negative: up, left), then
/// mirrored if `flip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Rows the face moves down.
    pub dy: i32,
    /// Columns the face moves right.
    pub dx: i32,
    /// Mirror left-right after the shift.
    pub flip: bool,
}

impl View {
    /// The face as it is.
    pub const IDENTITY: View = View {
        dy: 0,
        dx: 0,
        flip: false,
    };
}

/// The protocol's choice among `scores` (each TTA with its accuracy on the validation split):
/// the most accurate, the first of equals (so with [`TTA_CANDIDATES`]' order, the cheapest);
/// `None` if `scores` is empty.
pub fn choose_tta(scores: &[(Tta, f64)]) -> Option<Tta> {
    scores
        .iter()
        .fold(
            None,
            |best: Option<(Tta, f64)>, &(tta, accuracy)| match best {
                Some((_, best_accuracy)) if best_accuracy >= accuracy => best,
                _ => Some((tta, accuracy)),
            },
        )
        .map(|(tta, _)| tta)
}

impl Tta {
    /// Refuses a shift above [`MAX_TTA_SHIFT`], naming it.
    pub fn check(self) -> Result<()> {
        match self {
            Tta::Crops { shift } if shift > MAX_TTA_SHIFT => Err(FerError::invalid_parameter(
                "tta shift",
                format!("{shift} pixels is more than the {MAX_TTA_SHIFT} allowed"),
            )),
            _ => Ok(()),
        }
    }

    /// The views whose probabilities are averaged, the unchanged face first.
    pub fn views(self) -> Vec<View> {
        let plain = |dy, dx| [false, true].map(|flip| View { dy, dx, flip });
        match self {
            Tta::None => vec![View::IDENTITY],
            Tta::Flip => plain(0, 0).to_vec(),
            Tta::Crops { shift } => {
                let s = shift as i32;
                [(0, 0), (-s, -s), (-s, s), (s, -s), (s, s)]
                    .into_iter()
                    .flat_map(|(dy, dx)| plain(dy, dx))
                    .collect()
            }
        }
    }

    /// A short description for reports: "none", "flip", "crops (shift 3, 10 views)".
    pub fn describe(self) -> String {
        match self {
            Tta::None => "none".into(),
            Tta::Flip => "flip".into(),
            Tta::Crops { shift } => format!("crops (shift {shift}, 10 views)"),
        }
    }
}

/// Writes `view` of the 48x48 `face` into `out` (both `[2304]`, row-major).
pub fn apply_view(face: &[f32], view: View, out: &mut [f32]) {
    assert_eq!(face.len(), IMAGE_PIXELS);
    assert_eq!(out.len(), IMAGE_PIXELS);
    let last = IMAGE_SIDE as i32 - 1;
    for (r, row) in out.chunks_exact_mut(IMAGE_SIDE).enumerate() {
        let source_row = (r as i32 - view.dy).clamp(0, last) as usize * IMAGE_SIDE;
        for (c, pixel) in row.iter_mut().enumerate() {
            // Mirroring after the shift: output column c shows shifted column 47 - c.
            let shifted_c = if view.flip { last - c as i32 } else { c as i32 };
            let source_c = (shifted_c - view.dx).clamp(0, last) as usize;
            *pixel = face[source_row + source_c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face whose pixel (r, c) holds 100 r + c, so every output pixel says where it came
    /// from.
    fn coordinates() -> Vec<f32> {
        (0..IMAGE_PIXELS)
            .map(|i| (100 * (i / IMAGE_SIDE) + i % IMAGE_SIDE) as f32)
            .collect()
    }

    fn view_of(view: View) -> Vec<f32> {
        let mut out = vec![0.0; IMAGE_PIXELS];
        apply_view(&coordinates(), view, &mut out);
        out
    }

    fn at(image: &[f32], r: usize, c: usize) -> f32 {
        image[r * IMAGE_SIDE + c]
    }

    #[test]
    fn a_view_without_shift_or_flip_is_the_face() {
        assert_eq!(
            view_of(View {
                dy: 0,
                dx: 0,
                flip: false
            }),
            coordinates()
        );
        assert_eq!(Tta::None.views().len(), 1);
        assert_eq!(Tta::Flip.views(), Tta::Crops { shift: 0 }.views()[..2]);
    }

    #[test]
    fn views_are_the_shifts_and_mirrors_they_claim() {
        // Down 2, right 3: pixel (10, 10) shows (8, 7); the top rows and left columns repeat
        // the edge (row 0, column 0).
        let moved = view_of(View {
            dy: 2,
            dx: 3,
            flip: false,
        });
        assert_eq!(at(&moved, 10, 10), 807.0);
        assert_eq!(at(&moved, 0, 0), 0.0);
        assert_eq!(at(&moved, 1, 2), 0.0);
        assert_eq!(at(&moved, 1, 5), 2.0);
        assert_eq!(at(&moved, 47, 47), 4544.0);
        // Up 2, left 2: (10, 10) shows (12, 12); the bottom-right corner repeats (47, 47).
        let up = view_of(View {
            dy: -2,
            dx: -2,
            flip: false,
        });
        assert_eq!(at(&up, 10, 10), 1212.0);
        assert_eq!(at(&up, 46, 46), 4747.0);
        assert_eq!(at(&up, 45, 0), 4702.0);
        // Mirrored: column c shows column 47 - c.
        let mirrored = view_of(View {
            dy: 0,
            dx: 0,
            flip: true,
        });
        assert_eq!(at(&mirrored, 5, 0), 547.0);
        assert_eq!(at(&mirrored, 5, 47), 500.0);
        // Crops: the centre and the four diagonals, each with its mirror image.
        let views = Tta::Crops { shift: 3 }.views();
        assert_eq!(views.len(), 10);
        let mut offsets: Vec<(i32, i32)> = views.iter().map(|v| (v.dy, v.dx)).collect();
        offsets.dedup();
        assert_eq!(offsets, [(0, 0), (-3, -3), (-3, 3), (3, -3), (3, 3)]);
        assert_eq!(views.iter().filter(|v| v.flip).count(), 5);
    }

    /// The most accurate wins; of equals, the first (the cheapest in the candidates' order).
    #[test]
    fn the_choice_is_the_most_accurate_and_cheapest() {
        let shift = |shift| Tta::Crops { shift };
        let scores = [
            (Tta::None, 0.60),
            (Tta::Flip, 0.62),
            (shift(1), 0.63),
            (shift(2), 0.63),
            (shift(3), 0.61),
        ];
        assert_eq!(choose_tta(&scores), Some(shift(1)));
        assert_eq!(choose_tta(&scores[..2]), Some(Tta::Flip));
        assert_eq!(
            choose_tta(&[(Tta::None, 0.5), (Tta::Flip, 0.5)]),
            Some(Tta::None)
        );
        assert_eq!(choose_tta(&[]), None);
        // The candidates are listed cheapest first, as the tie rule assumes.
        assert!(TTA_CANDIDATES
            .windows(2)
            .all(|pair| pair[0].views().len() <= pair[1].views().len()));
    }

    #[test]
    fn shifts_above_the_limit_are_refused() {
        assert!(Tta::Crops { shift: 8 }.check().is_ok());
        let err = Tta::Crops { shift: 9 }.check().unwrap_err().to_string();
        assert!(err.contains("tta shift") && err.contains('9'), "{err}");
    }
}
