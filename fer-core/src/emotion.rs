//! The seven FER2013 emotions, in the data set's label order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::FerError;

/// One of FER2013's seven emotion classes. The discriminant is the data set's label
/// (the `emotion` column of `fer2013.csv`): 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad,
/// 5 Surprise, 6 Neutral.
///
/// ```
/// use fer_core::Emotion;
/// assert_eq!(Emotion::from_index(3), Some(Emotion::Happy));
/// assert_eq!("SURPRISE".parse::<Emotion>().unwrap(), Emotion::Surprise);
/// assert_eq!(Emotion::Fear.name(), "fear");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Emotion {
    /// Label 0.
    Angry = 0,
    /// Label 1; the rarest class (about 1.5% of the data).
    Disgust = 1,
    /// Label 2.
    Fear = 2,
    /// Label 3; the most common class.
    Happy = 3,
    /// Label 4.
    Sad = 4,
    /// Label 5.
    Surprise = 5,
    /// Label 6.
    Neutral = 6,
}

impl Emotion {
    /// Number of classes.
    pub const COUNT: usize = 7;

    /// All emotions in label order.
    pub const ALL: [Emotion; Emotion::COUNT] = [
        Emotion::Angry,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Surprise,
        Emotion::Neutral,
    ];

    /// The label, 0..=6.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The emotion with this label, or `None` outside 0..=6.
    pub fn from_index(index: usize) -> Option<Emotion> {
        Emotion::ALL.get(index).copied()
    }

    /// Lower-case name, as Kaggle's folders spell it (`"angry"`).
    pub fn name(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Surprise => "surprise",
            Emotion::Neutral => "neutral",
        }
    }

    /// Capitalised name for plots and reports (`"Angry"`).
    pub fn title(self) -> &'static str {
        match self {
            Emotion::Angry => "Angry",
            Emotion::Disgust => "Disgust",
            Emotion::Fear => "Fear",
            Emotion::Happy => "Happy",
            Emotion::Sad => "Sad",
            Emotion::Surprise => "Surprise",
            Emotion::Neutral => "Neutral",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Emotion {
    type Err = FerError;

    /// Parses a name in any case (`"Happy"`, `"happy"`, `"HAPPY"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Emotion::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| FerError::UnknownEmotion(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_dataset_order() {
        // Order from fer2013.csv's documentation (../shared/fer2013/README.md).
        let names: Vec<_> = Emotion::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        );
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(*e));
        }
        assert_eq!(Emotion::from_index(7), None);
    }

    #[test]
    fn parses_names_in_any_case_and_rejects_others() {
        assert_eq!("Angry".parse::<Emotion>().unwrap(), Emotion::Angry);
        assert_eq!("nEuTrAl".parse::<Emotion>().unwrap(), Emotion::Neutral);
        let err = "contempt".parse::<Emotion>().unwrap_err();
        assert!(err.to_string().contains("contempt"), "{err}");
    }
}
