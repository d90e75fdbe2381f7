//! Which devices an existing container holds, read from the labels DS01 and AIME MLC wrote.
//!
//! Labels are user-controlled (an image's labels are inherited), so this is for containers the
//! daemon did not create itself; the daemon should also read `HostConfig.DeviceRequests` and
//! take the union. Every reading errs towards "held": a device counted held by mistake costs a
//! wait, a device counted free by mistake is handed out twice.

use std::collections::HashMap;

use ds01_labels::gpu;

use crate::inventory::{Device, DeviceKind};

/// The devices a container's labels claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelGpus {
    /// Resolved device UUIDs, without repeats, in label order.
    pub uuids: Vec<String>,
    /// `aime.mlc.GPUS=all`: every GPU was visible. Not expanded into `uuids`, because DS01's
    /// `--cpu-only` containers carried it by mistake; the caller decides.
    pub all: bool,
    /// Values that name nothing in the inventory (a GPU since removed, a garbled label).
    pub unresolved: Vec<String>,
}

/// DS01's keys, all read and merged. `ds01.gpu_slot` is the raw-docker wrapper's UUID list;
/// `ds01.gpu.allocated` held a slot list in DS01's scripts but a timestamp in its label schema.
const DS01_KEYS: [&str; 5] = gpu::HELD;

/// Reads the devices a container holds from its labels, mapping indices and slots back to
/// UUIDs through `devices`.
///
/// * `ds01.gpu.uuids`, `ds01.gpu.uuid`, `ds01.gpu_slot`: UUIDs, comma-separated.
/// * `ds01.gpu.slots`, `ds01.gpu.allocated`: slots `"0"` (GPU 0) and `"1.2"` (MIG instance 2
///   of GPU 1); the label schema's `"1:2"` is read the same way. A timestamp is skipped.
/// * Only when none of those is present, AIME's `aime.mlc.GPUS` (the raw `-g` value):
///   `device=UUID,UUID` or `device=0,1`; a bare `N` is Docker's count, which Docker turns into
///   GPUs 0…N-1; `all` sets [`LabelGpus::all`].
///
/// An index or a parent UUID of a split GPU stands for all of its MIG instances; a MIG slot
/// on a GPU that is no longer split stands for the whole GPU.
///
/// ```
/// use std::collections::HashMap;
/// use ds01_policy::{gpus_from_labels, Inventory};
///
/// let inv = Inventory::from_toml(
///     "[[gpu]]\nindex = 0\nuuid = \"GPU-a\"\nname = \"NVIDIA A100\"\n\
///      [[gpu]]\nindex = 1\nuuid = \"GPU-b\"\nname = \"NVIDIA A100\"\n\
///      [[gpu.mig]]\nuuid = \"MIG-b0\"\nprofile = \"3g.40gb\"",
/// )?;
/// let labels = HashMap::from([("aime.mlc.GPUS".to_string(), "device=0,1".to_string())]);
/// assert_eq!(gpus_from_labels(&labels, &inv.devices()).uuids, ["GPU-a", "MIG-b0"]);
/// let labels = HashMap::from([("ds01.gpu.slots".to_string(), "1.0".to_string())]);
/// assert_eq!(gpus_from_labels(&labels, &inv.devices()).uuids, ["MIG-b0"]);
/// # Ok::<(), ds01_policy::InventoryError>(())
/// ```
pub fn gpus_from_labels(labels: &HashMap<String, String>, devices: &[Device]) -> LabelGpus {
    let mut out = LabelGpus::default();
    let ds01: Vec<&String> = DS01_KEYS.iter().filter_map(|k| labels.get(*k)).collect();
    if !ds01.is_empty() {
        for value in ds01 {
            if looks_like_timestamp(value) {
                continue;
            }
            for token in value.split(',') {
                resolve(token, devices, &mut out);
            }
        }
    } else if let Some(value) = labels.get(gpu::MLC_GPUS) {
        read_aime(value, devices, &mut out);
    }
    out
}

fn looks_like_timestamp(v: &str) -> bool {
    let b = v.trim().as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

fn read_aime(value: &str, devices: &[Device], out: &mut LabelGpus) {
    // Docker's CLI wants `--gpus '"device=0,1"'`, so the recorded value may carry the quotes.
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if v.eq_ignore_ascii_case("all") {
        out.all = true;
    } else if let Some(list) = v.strip_prefix("device=") {
        list.split(',').for_each(|t| resolve(t, devices, out));
    } else if let Ok(n) = v.parse::<u32>() {
        // moby's countToDevices: `--gpus N` exposes GPUs 0…N-1.
        (0..n).for_each(|i| resolve(&i.to_string(), devices, out));
    } else {
        v.split(',').for_each(|t| resolve(t, devices, out));
    }
}

fn resolve(token: &str, devices: &[Device], out: &mut LabelGpus) {
    let t = token.trim().trim_matches(|c| c == '"' || c == '\'');
    if t.is_empty() {
        return;
    }
    let on_gpu = |i: u32| devices.iter().filter(move |d| d.gpu_index == i);
    let found: Vec<&Device> = if let Some(d) = devices.iter().find(|d| d.uuid == t) {
        vec![d]
    } else if t.starts_with("GPU-") {
        devices.iter().filter(|d| d.gpu_uuid == t).collect()
    } else if let Ok(i) = t.parse::<u32>() {
        on_gpu(i).collect()
    } else if let Some((g, m)) = t.split_once(['.', ':']) {
        match (g.parse::<u32>(), m.parse::<u32>()) {
            (Ok(g), Ok(m)) => {
                let mig: Vec<&Device> = on_gpu(g)
                    .filter(|d| matches!(d.kind, DeviceKind::Mig { index, .. } if index == m))
                    .collect();
                if mig.is_empty() {
                    on_gpu(g).filter(|d| d.kind == DeviceKind::Full).collect()
                } else {
                    mig
                }
            }
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    if found.is_empty() {
        out.unresolved.push(t.to_string());
    }
    for d in found {
        if !out.uuids.contains(&d.uuid) {
            out.uuids.push(d.uuid.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn devices() -> Vec<Device> {
        Inventory::from_toml(
            r#"
            [[gpu]]
            index = 0
            uuid = "GPU-a"
            name = "NVIDIA A100"
            [[gpu]]
            index = 1
            uuid = "GPU-b"
            name = "NVIDIA A100"
            [[gpu.mig]]
            uuid = "MIG-b0"
            profile = "3g.40gb"
            [[gpu.mig]]
            uuid = "MIG-b1"
            profile = "3g.40gb"
            [[gpu]]
            index = 2
            uuid = "GPU-c"
            name = "NVIDIA A100"
            "#,
        )
        .unwrap()
        .devices()
    }

    fn read(pairs: &[(&str, &str)]) -> LabelGpus {
        let labels = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        gpus_from_labels(&labels, &devices())
    }

    #[test]
    fn ds01_labels_are_merged_and_deduplicated() {
        let got = read(&[
            ("ds01.gpu.uuids", "GPU-a,MIG-b1"),
            ("ds01.gpu.uuid", "GPU-a"),
            ("ds01.gpu.slots", "0,1.1"),
            ("ds01.gpu.allocated", "2026-02-16T15:30:00Z"),
            ("aime.mlc.GPUS", "all"),
        ]);
        assert_eq!(
            got,
            LabelGpus {
                uuids: vec!["GPU-a".into(), "MIG-b1".into()],
                all: false,
                unresolved: vec![]
            }
        );
    }

    #[test]
    fn slots_in_both_spellings_and_legacy_allocated() {
        assert_eq!(
            read(&[("ds01.gpu.slots", "1:0, 1.1")]).uuids,
            ["MIG-b0", "MIG-b1"]
        );
        assert_eq!(read(&[("ds01.gpu.allocated", "1.1")]).uuids, ["MIG-b1"]);
        // GPU 2 is no longer split: its old MIG slot means the whole card.
        assert_eq!(read(&[("ds01.gpu.slots", "2.3")]).uuids, ["GPU-c"]);
        assert_eq!(read(&[("ds01.gpu_slot", "GPU-c")]).uuids, ["GPU-c"]);
    }

    #[test]
    fn aime_gpus_values() {
        assert_eq!(
            read(&[("aime.mlc.GPUS", "device=MIG-b0")]).uuids,
            ["MIG-b0"]
        );
        assert_eq!(
            read(&[("aime.mlc.GPUS", "\"device=0,2\"")]).uuids,
            ["GPU-a", "GPU-c"]
        );
        assert_eq!(read(&[("aime.mlc.GPUS", "0,2")]).uuids, ["GPU-a", "GPU-c"]);
        // A count: Docker exposes GPUs 0 and 1, and GPU 1 is all its instances.
        assert_eq!(
            read(&[("aime.mlc.GPUS", "2")]).uuids,
            ["GPU-a", "MIG-b0", "MIG-b1"]
        );
        assert_eq!(read(&[("aime.mlc.GPUS", "0")]), LabelGpus::default());
        let all = read(&[("aime.mlc.GPUS", "all")]);
        assert!(all.all && all.uuids.is_empty());
        // The parent UUID of a split GPU holds every instance.
        assert_eq!(
            read(&[("aime.mlc.GPUS", "device=GPU-b")]).uuids,
            ["MIG-b0", "MIG-b1"]
        );
    }

    #[test]
    fn unknown_values_are_reported_not_dropped() {
        let got = read(&[("ds01.gpu.uuids", "GPU-gone,GPU-a,,7,x.y")]);
        assert_eq!(got.uuids, ["GPU-a"]);
        assert_eq!(got.unresolved, ["GPU-gone", "7", "x.y"]);
        assert_eq!(read(&[("ds01.user", "h.baker")]), LabelGpus::default());
    }
}
