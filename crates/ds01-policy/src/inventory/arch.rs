//! GPU product name → AIME-style architecture tag, so catalog images can be matched to the
//! hardware without the admin writing `arch` for every GPU.

/// The architecture tag for a product name as NVML reports it, or `None` if unknown.
///
/// The tags follow AIME MLC's spelling (`CUDA_AMPERE`, `CUDA_ADA`, `CUDA_BLACKWELL`), extended
/// with `CUDA_HOPPER`, `CUDA_VOLTA` and `CUDA_TURING`, which AIME's catalog does not list.
///
/// ```
/// use ds01_policy::arch_from_name;
///
/// assert_eq!(arch_from_name("NVIDIA H100 80GB HBM3"), Some("CUDA_HOPPER"));
/// assert_eq!(arch_from_name("NVIDIA RTX 6000 Ada Generation"), Some("CUDA_ADA"));
/// assert_eq!(arch_from_name("NVIDIA RTX A6000"), Some("CUDA_AMPERE"));
/// assert_eq!(arch_from_name("Matrox G200"), None);
/// ```
pub fn arch_from_name(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let tokens: Vec<&str> = upper
        .split([' ', '-', '_'])
        .filter(|t| !t.is_empty())
        .collect();
    let has = |t: &str| tokens.contains(&t);
    let any = |p: &dyn Fn(&str) -> bool| tokens.iter().any(|t| p(t));
    // "RTX 4090", "RTX 3060 Ti": the generation is the leading digit pair after RTX.
    let rtx_series = tokens
        .windows(2)
        .find(|w| w[0] == "RTX" && w[1].len() == 4 && w[1].bytes().all(|b| b.is_ascii_digit()))
        .map(|w| &w[1][..2]);

    // Most specific first: "RTX 6000 Ada" and "RTX PRO 6000 Blackwell" share a number with the
    // Turing-era "Quadro RTX 6000", so the generation word decides before the number does.
    if has("BLACKWELL")
        || any(&|t| matches!(t, "B100" | "B200" | "GB200" | "B300"))
        || rtx_series == Some("50")
    {
        Some("CUDA_BLACKWELL")
    } else if has("ADA")
        || any(&|t| matches!(t, "L4" | "L40" | "L40S" | "L20"))
        || rtx_series == Some("40")
    {
        Some("CUDA_ADA")
    } else if any(&|t| matches!(t, "H100" | "H200" | "H800" | "H20" | "GH200")) {
        Some("CUDA_HOPPER")
    } else if any(&|t| {
        matches!(
            t,
            "A100" | "A800" | "A30" | "A40" | "A10" | "A10G" | "A16" | "A2"
        ) || matches!(t, "A2000" | "A4000" | "A4500" | "A5000" | "A5500" | "A6000")
    }) || rtx_series == Some("30")
    {
        Some("CUDA_AMPERE")
    } else if has("T4") || has("QUADRO") && has("RTX") || rtx_series == Some("20") {
        Some("CUDA_TURING")
    } else if any(&|t| t.starts_with("V100")) || has("TITAN") && has("V") {
        Some("CUDA_VOLTA")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::arch_from_name;

    #[test]
    fn common_data_centre_and_workstation_names() {
        let cases = [
            ("NVIDIA H100 80GB HBM3", Some("CUDA_HOPPER")),
            ("NVIDIA H200", Some("CUDA_HOPPER")),
            ("NVIDIA GH200 480GB", Some("CUDA_HOPPER")),
            ("NVIDIA A100-SXM4-40GB", Some("CUDA_AMPERE")),
            ("NVIDIA A100 80GB PCIe", Some("CUDA_AMPERE")),
            ("NVIDIA A30", Some("CUDA_AMPERE")),
            ("NVIDIA A40", Some("CUDA_AMPERE")),
            ("NVIDIA GeForce RTX 3090", Some("CUDA_AMPERE")),
            ("NVIDIA L4", Some("CUDA_ADA")),
            ("NVIDIA L40S", Some("CUDA_ADA")),
            ("NVIDIA GeForce RTX 4090", Some("CUDA_ADA")),
            ("NVIDIA RTX 6000 Ada Generation", Some("CUDA_ADA")),
            ("NVIDIA B200", Some("CUDA_BLACKWELL")),
            (
                "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
                Some("CUDA_BLACKWELL"),
            ),
            ("NVIDIA GeForce RTX 5090", Some("CUDA_BLACKWELL")),
            ("Tesla V100-SXM2-32GB", Some("CUDA_VOLTA")),
            ("Tesla T4", Some("CUDA_TURING")),
            ("Quadro RTX 6000", Some("CUDA_TURING")),
            ("NVIDIA A100-SXM4-40GB MIG 3g.20gb", Some("CUDA_AMPERE")),
            ("Some Future GPU", None),
        ];
        for (name, want) in cases {
            assert_eq!(arch_from_name(name), want, "{name}");
        }
    }
}
