//! DS01's default package sets and environment, used to start a new spec.
//!
//! These are data, not rules: once a spec exists, it lists its packages explicitly and these
//! lists no longer matter to it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// apt packages DS01 installs on every catalog-based image.
pub const APT: &[&str] = &["git", "curl", "wget", "vim", "htop"];

/// DS01's default Jupyter packages.
pub const JUPYTER: &[&str] = &[
    "jupyter",
    "jupyterlab",
    "ipykernel",
    "ipywidgets",
    "notebook",
];

/// DS01's default data-science packages.
pub const DATA_SCIENCE: &[&str] = &["pandas", "scipy", "scikit-learn", "matplotlib", "seaborn"];

/// Environment DS01 sets in every image: unbuffered Python, GPU numbering as `nvidia-smi`
/// shows it, and caches under the mounted workspace so they survive the container.
pub const ENV: &[(&str, &str)] = &[
    ("PYTHONUNBUFFERED", "1"),
    ("CUDA_DEVICE_ORDER", "PCI_BUS_ID"),
    ("HF_HOME", "/workspace/.cache/huggingface"),
    ("TORCH_HOME", "/workspace/.cache/torch"),
    ("MPLCONFIGDIR", "/workspace/.cache/matplotlib"),
];

/// What an image is for; picks a set of domain packages (DS01's `--type`).
///
/// ```
/// use ds01_dockerfile::UseCase;
///
/// let cv: UseCase = "cv".parse().unwrap();
/// assert_eq!(cv, UseCase::ComputerVision);
/// assert!(cv.packages().contains(&"timm"));
/// assert!(UseCase::Custom.packages().is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UseCase {
    /// General machine learning (`ml`).
    #[serde(rename = "ml")]
    GeneralMl,
    /// Computer vision (`cv`).
    #[serde(rename = "cv")]
    ComputerVision,
    /// Natural-language processing (`nlp`).
    #[serde(rename = "nlp")]
    Nlp,
    /// Reinforcement learning (`rl`).
    #[serde(rename = "rl")]
    ReinforcementLearning,
    /// Audio (`audio`).
    #[serde(rename = "audio")]
    Audio,
    /// Time series (`ts`).
    #[serde(rename = "ts")]
    TimeSeries,
    /// Large language models (`llm`).
    #[serde(rename = "llm")]
    Llm,
    /// The user lists the packages (`custom`).
    #[serde(rename = "custom")]
    Custom,
}

impl UseCase {
    /// Every use case, in DS01's menu order.
    pub const ALL: [UseCase; 8] = [
        UseCase::GeneralMl,
        UseCase::ComputerVision,
        UseCase::Nlp,
        UseCase::ReinforcementLearning,
        UseCase::Audio,
        UseCase::TimeSeries,
        UseCase::Llm,
        UseCase::Custom,
    ];

    /// The short name used on the command line and in specs (`cv`).
    ///
    /// ```
    /// assert_eq!(ds01_dockerfile::UseCase::Nlp.as_str(), "nlp");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            UseCase::GeneralMl => "ml",
            UseCase::ComputerVision => "cv",
            UseCase::Nlp => "nlp",
            UseCase::ReinforcementLearning => "rl",
            UseCase::Audio => "audio",
            UseCase::TimeSeries => "ts",
            UseCase::Llm => "llm",
            UseCase::Custom => "custom",
        }
    }

    /// DS01's package set for this use case (its later, extended lists).
    ///
    /// ```
    /// assert!(ds01_dockerfile::UseCase::Nlp.packages().contains(&"transformers"));
    /// ```
    pub fn packages(self) -> &'static [&'static str] {
        match self {
            UseCase::GeneralMl => &["xgboost", "lightgbm", "catboost", "optuna", "shap"],
            UseCase::ComputerVision => &[
                "timm",
                "albumentations",
                "opencv-python-headless",
                "kornia",
                "ultralytics",
            ],
            UseCase::Nlp => &[
                "transformers",
                "datasets",
                "tokenizers",
                "accelerate",
                "sentencepiece",
                "peft",
                "safetensors",
                "evaluate",
            ],
            UseCase::ReinforcementLearning => &["gymnasium", "stable-baselines3"],
            UseCase::Audio => &["librosa", "soundfile", "audiomentations"],
            UseCase::TimeSeries => &["statsmodels", "prophet", "darts"],
            UseCase::Llm => &["vllm", "bitsandbytes", "langchain", "einops"],
            UseCase::Custom => &[],
        }
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown use-case name; the message lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown use case {0:?}; choose one of: ml, cv, nlp, rl, audio, ts, llm, custom")]
pub struct UseCaseError(String);

impl std::str::FromStr for UseCase {
    type Err = UseCaseError;
    fn from_str(s: &str) -> Result<UseCase, UseCaseError> {
        UseCase::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or_else(|| UseCaseError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AptPackage, EnvName, EnvValue, PipRequirement};

    #[test]
    fn every_default_is_a_valid_value() {
        for p in APT {
            AptPackage::parse(p).unwrap();
        }
        let pip = JUPYTER.iter().chain(DATA_SCIENCE);
        for p in pip.chain(UseCase::ALL.iter().flat_map(|u| u.packages())) {
            PipRequirement::parse(p).unwrap();
        }
        for (k, v) in ENV {
            EnvName::parse(k).unwrap();
            EnvValue::parse(v).unwrap();
        }
    }

    #[test]
    fn names_round_trip_and_unknown_lists_choices() {
        for u in UseCase::ALL {
            assert_eq!(u.as_str().parse::<UseCase>().unwrap(), u);
        }
        let err = "vision".parse::<UseCase>().unwrap_err().to_string();
        assert!(err.contains("\"vision\"") && err.contains("cv"), "{err}");
    }
}
